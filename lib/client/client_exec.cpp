// The Exec stream on the client side: Client::exec opens the bidi stream
// with the usual credentials (client_impl.hpp) and sends the first chunk;
// GrpcExecSession serialises writers (stdin relay and resize may come from
// different threads) while one reader drains output. No retry once the
// stream is open: stdin may already have been consumed.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <functional>
#include <mutex>

#include "client/call_error.hpp"
#include "client/client.hpp"
#include "client/client_impl.hpp"
#include "common/error.hpp"

namespace boxd::client {

namespace {

constexpr std::size_t k_stdin_chunk_bytes = 1024 * 1024;

class GrpcExecSession final : public ExecSession {
 public:
  // on_unreachable: called when the call failed to connect before any output.
  GrpcExecSession(std::unique_ptr<grpc::ClientContext> context,
                  std::unique_ptr<grpc::ClientReaderWriter<api::ExecChunk, api::ExecChunk>> stream,
                  ResolvedConfig config, std::function<void()> on_unreachable)
      : m_context(std::move(context)),
        m_stream(std::move(stream)),
        m_config(std::move(config)),
        m_on_unreachable(std::move(on_unreachable)) {}

  ~GrpcExecSession() override {
    if (!m_finished) {
      m_context->TryCancel();
      api::ExecChunk ignored;
      while (m_stream->Read(&ignored)) {
      }
      m_stream->Finish();
    }
  }

  GrpcExecSession(const GrpcExecSession&) = delete;
  GrpcExecSession& operator=(const GrpcExecSession&) = delete;

  bool write_stdin(std::string_view data) override {
    std::lock_guard lock(m_write_mutex);
    if (m_writes_done) {
      return false;
    }
    // One chunk message reused for every write: its data buffer keeps its
    // capacity, so bulk stdin does not allocate (and fault in) fresh memory
    // per chunk.
    std::size_t offset = 0;
    do {
      m_stdin_chunk.set_stdin(true);
      m_stdin_chunk.set_data(data.data() + offset,
                             std::min(k_stdin_chunk_bytes, data.size() - offset));
      if (!m_stream->Write(m_stdin_chunk)) {
        return false;
      }
      offset += k_stdin_chunk_bytes;
    } while (offset < data.size());
    return true;
  }

  bool resize(unsigned cols, unsigned rows) override {
    std::lock_guard lock(m_write_mutex);
    if (m_writes_done) {
      return false;
    }
    api::ExecChunk chunk;
    chunk.set_window_change(true);
    chunk.set_cols(cols);
    chunk.set_rows(rows);
    return m_stream->Write(chunk);
  }

  void close_stdin() override {
    std::lock_guard lock(m_write_mutex);
    if (!m_writes_done) {
      m_writes_done = true;
      m_stream->WritesDone();
    }
  }

  bool read(api::ExecChunk& chunk) override {
    while (m_stream->Read(&chunk)) {
      if (chunk.stdin() || chunk.window_change()) {
        continue;  // echoes of client-side chunk kinds: not output
      }
      m_had_output = true;
      return true;
    }
    return false;
  }

  void finish() override {
    if (m_finished) {
      return;
    }
    m_finished = true;
    const grpc::Status status = m_stream->Finish();
    if (!status.ok()) {
      if (status.error_code() == grpc::StatusCode::UNAVAILABLE && !m_had_output &&
          m_on_unreachable) {
        m_on_unreachable();
      }
      throw error_from_call(status, m_config, m_had_output);
    }
  }

  void cancel() override { m_context->TryCancel(); }

 private:
  std::unique_ptr<grpc::ClientContext> m_context;
  std::unique_ptr<grpc::ClientReaderWriter<api::ExecChunk, api::ExecChunk>> m_stream;
  const ResolvedConfig m_config;  // a copy: the session may outlive its Client
  std::function<void()> m_on_unreachable;
  std::mutex m_write_mutex;
  api::ExecChunk m_stdin_chunk;  // guarded by m_write_mutex
  bool m_writes_done = false;
  bool m_had_output = false;
  bool m_finished = false;
};

// The command as sent: in tty mode with a TERM, docs/wire-contract.md
// section 3: always single-quoted, `export TERM='xterm-256color'; cmd`.
std::string command_with_term(const ExecRequest& request) {
  if (!request.tty || request.term.empty() || request.command.empty()) {
    return request.command;
  }
  std::string quoted;
  for (char c : request.term) {
    quoted += c == '\'' ? std::string("'\"'\"'") : std::string(1, c);
  }
  return "export TERM='" + quoted + "'; " + request.command;
}

api::ExecChunk first_chunk(const ExecRequest& request) {
  api::ExecChunk first;
  first.set_vm_id(request.vm);
  first.set_command(command_with_term(request));
  first.set_tty(request.tty);
  if (request.tty) {
    first.set_cols(request.cols);
    first.set_rows(request.rows);
  }
  return first;
}

}  // namespace

std::unique_ptr<ExecSession> Client::exec(const ExecRequest& request) {
  // bearer() refreshes a token within five minutes of expiry, so a stream
  // does not start with a token about to lapse.
  auto context = m_impl->stream_context();
  if (request.deadline) {
    context->set_deadline(std::chrono::system_clock::now() + *request.deadline);
  }
  auto stream = m_impl->get_stub().Exec(context.get());
  // A failed first write shows up as the stream's status on read/finish.
  stream->Write(first_chunk(request));
  // A cached transport that no longer works is asked again on the next run
  // (no retry here: stdin may already be consumed).
  std::function<void()> forget_transport;
  std::optional<TransportChoice> choice;
  {
    std::lock_guard lock(m_impl->mutex);
    choice = m_impl->transport;
  }
  if (choice && choice->from_cache) {
    forget_transport = [cache = m_impl->transport_cache, target = m_impl->config.endpoint.target] {
      cache.drop(target);
    };
  }
  return std::make_unique<GrpcExecSession>(std::move(context), std::move(stream), m_impl->config,
                                           std::move(forget_transport));
}

}  // namespace boxd::client
