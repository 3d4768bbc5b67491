"""The Python SDK's way of making one call, as a script does it: a fresh
process exchanges the API key over HTTP, opens a gRPC channel and calls
GetVm once (the benchmark times the whole process).

Usage: py_get.py STUBS_DIR VM   (env: BOXD_API_KEY, BOXD_API_URL,
BOXD_EXCHANGE_URL). Exits 0 when GetVm answered with the box's name.
Runs under Debian's /usr/bin/python3 with python3-grpcio; the stubs are
generated from proto/boxd/api/v1/api.proto by the benchmark.
"""

import json
import os
import sys
import urllib.request


def main():
    stubs, vm = sys.argv[1], sys.argv[2]
    sys.path.insert(0, stubs)
    import grpc  # noqa: E402  (after the stubs path is set, as an SDK import would be)
    from boxd.api.v1 import api_pb2, api_pb2_grpc  # noqa: E402

    request = urllib.request.Request(
        os.environ["BOXD_EXCHANGE_URL"],
        data=json.dumps({"api_key": os.environ["BOXD_API_KEY"]}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=15) as response:
        token = json.load(response)["token"]
    target = os.environ["BOXD_API_URL"].removeprefix("http://")
    with grpc.insecure_channel(target) as channel:
        stub = api_pb2_grpc.BoxdApiStub(channel)
        reply = stub.GetVm(api_pb2.GetVmRequest(vm_id=vm), timeout=30,
                           metadata=[("authorization", f"Bearer {token}")])
    if reply.name != vm and reply.vm_id != vm:
        print(f"py_get: unexpected reply {reply}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
