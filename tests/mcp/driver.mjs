// A line-driven MCP client for the e2e tests (tests/e2e/test_mcp.py), built
// on the official TypeScript SDK (@modelcontextprotocol/sdk, pinned in
// package-lock.json). It reads one JSON command per line on stdin and
// answers each with one JSON line on stdout:
//   {"op":"connect","command":BIN,"args":[...]}  spawn `BIN args` over stdio, initialize
//   {"op":"list_tools"}                           tools/list (the SDK caches output schemas)
//   {"op":"call","tool":T,"args":{...},           tools/call; "progress": collect progress
//    "progress":true,"cancel_on":TEXT}            notifications; "cancel_on": abort the call
//                                                 once a progress message contains TEXT
//   {"op":"close"}                                close the transport (the server sees EOF)
// Every answer has "ok"; a failure has "error" (and "code" for an McpError).
// Transport errors (e.g. a line on the server's stdout that is not a
// JSON-RPC message) are collected and returned by every answer as
// "transport_errors".
import { createInterface } from 'node:readline';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

let client = null;
let transport = null;
let negotiated = null;
const transportErrors = [];

function answer(doc) {
  process.stdout.write(JSON.stringify({ ...doc, transport_errors: transportErrors }) + '\n');
}

async function connect(cmd) {
  transport = new StdioClientTransport({
    command: cmd.command,
    args: cmd.args ?? [],
    env: { ...process.env, ...(cmd.env ?? {}) },
    stderr: 'inherit',
  });
  transport.setProtocolVersion = (version) => { negotiated = version; };
  client = new Client({ name: 'boxd-e2e', version: '1.0.0' }, { capabilities: {} });
  client.onerror = (error) => transportErrors.push(String(error?.message ?? error));
  await client.connect(transport);
  return {
    protocol_version: negotiated,
    server: client.getServerVersion(),
    capabilities: client.getServerCapabilities(),
    instructions: client.getInstructions(),
  };
}

async function call(cmd) {
  const progress = [];
  const controller = new AbortController();
  const options = { signal: controller.signal, timeout: cmd.timeout_ms ?? 120000 };
  if (cmd.progress || cmd.cancel_on) {
    options.resetTimeoutOnProgress = true;
    options.onprogress = (p) => {
      progress.push(p);
      if (cmd.cancel_on && String(p.message ?? '').includes(cmd.cancel_on)) {
        controller.abort('the test cancels');
      }
    };
  }
  const started = Date.now();
  try {
    const result = await client.callTool({ name: cmd.tool, arguments: cmd.args ?? {} }, undefined, options);
    return { result, progress, ms: Date.now() - started };
  } catch (error) {
    return { ok: false, error: String(error?.message ?? error), code: error?.code ?? null,
             aborted: controller.signal.aborted, progress, ms: Date.now() - started };
  }
}

async function handle(cmd) {
  switch (cmd.op) {
    case 'connect':
      return connect(cmd);
    case 'list_tools':
      return client.listTools();
    case 'call':
      return call(cmd);
    case 'close':
      await client.close();
      return {};
    default:
      throw new Error(`unknown op ${cmd.op}`);
  }
}

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (!line.trim()) continue;
  try {
    const doc = await handle(JSON.parse(line));
    answer({ ok: true, ...doc });
  } catch (error) {
    answer({ ok: false, error: String(error?.message ?? error), code: error?.code ?? null });
  }
}
