"""Pending (issue 3): the --jsonl test, moved out of test_exec_stream.py until box exec has --jsonl."""

@suite.test
def jsonl_streams_one_object_per_chunk_then_the_status(t):
    box = vm(t)
    result = t.alice.run("box", "exec", "--jsonl", box, "--", "sh", "-c",
                         "echo one; echo two >&2; exit 3")
    expect_equal(result.code, 3, result.describe("exit code with --jsonl"))
    objects = [json.loads(line) for line in result.stdout.splitlines()]
    expect(len(objects) >= 3, result.describe("expected output chunks and a final status"))
    final = objects[-1]
    expect_equal(final.get("exit_code"), 3, "final object's exit_code")
    chunks = objects[:-1]
    out = "".join(o.get("data", "") for o in chunks if o.get("stream") == "stdout")
    err = "".join(o.get("data", "") for o in chunks if o.get("stream") == "stderr")
    expect_equal(out, "one\n", "stdout chunks")
    expect_equal(err, "two\n", "stderr chunks")


