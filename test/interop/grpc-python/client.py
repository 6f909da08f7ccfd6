"""A proxyless Python grpcio client (gRPC C-core's xDS client) for xdsim's interop tests.

It resolves xds:///<target> through the control plane named by GRPC_XDS_BOOTSTRAP_CONFIG and calls
/xdsim.test.Echo/Who, whose reply is the name of the backend that served it. Driven over stdin, one
command per line (as the grpc-go client in test/interop/grpc-go):

    tally <n>   make n RPCs, print {"<backend>": count, ...} (failures as "error:<code>")
    quit        exit
"""

import argparse
import json
import sys

import grpc

PARALLEL = 20


def who_method(channel):
    # No serializers: request and response bodies go over the wire as the bytes they are.
    return channel.unary_unary("/xdsim.test.Echo/Who")


def tally(who, n, timeout):
    counts = {}
    for i in range(0, n, PARALLEL):
        futures = [who.future(b"", timeout=timeout) for _ in range(min(PARALLEL, n - i))]
        for f in futures:
            try:
                r = f.result().decode("utf-8")
            except grpc.RpcError as e:
                r = "error:" + e.code().name
            counts[r] = counts.get(r, 0) + 1
    return counts


def main():
    p = argparse.ArgumentParser()
    p.add_argument("-target", required=True, help="xds:/// target to dial")
    p.add_argument("-timeout", type=float, default=5.0, help="deadline of each RPC, seconds")
    args = p.parse_args()
    channel = grpc.insecure_channel(args.target)
    who = who_method(channel)
    try:
        print(json.dumps({"ready": True}, separators=(",", ":")), flush=True)
        for line in sys.stdin:
            fields = line.split()
            if not fields:
                continue
            if fields[0] == "tally":
                n = 1
                if len(fields) > 1:
                    try:
                        n = max(1, int(fields[1]))
                    except ValueError:
                        pass
                print(json.dumps(tally(who, n, args.timeout), sort_keys=True), flush=True)
            elif fields[0] == "quit":
                return
            else:
                print("unknown command: " + fields[0], file=sys.stderr, flush=True)
    finally:
        channel.close()


if __name__ == "__main__":
    main()
