#!/usr/bin/env python3
"""Connection probe for the kernel tests; runs inside a test network namespace.

  probe.py serve PORT[,PORT...]            listen on TCP ports (IPv4 and IPv6), print "ready", accept forever
  probe.py connect TIMEOUT [--from V4 V6] ADDR PORT ...
                                           open every connection at once (from the given source
                                           addresses, if any); print one JSON object:
                                           {"ADDR PORT": "connected" | "timeout" | "refused" | "error:..."}

Denied traffic is dropped by the firewall, so a denied connection times out; "refused" means
something answered with a reset, which the tests treat as a failure of the setup.
"""
import errno
import json
import selectors
import socket
import sys
import time


def serve(ports):
    listeners = []
    for family, host in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        for port in ports:
            s = socket.socket(family, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind((host, port))
            s.listen(512)
            s.setblocking(False)
            listeners.append(s)
    selector = selectors.DefaultSelector()
    for s in listeners:
        selector.register(s, selectors.EVENT_READ)
    print("ready", flush=True)
    while True:
        for key, _ in selector.select():
            try:
                conn, _ = key.fileobj.accept()
                conn.close()
            except OSError:
                pass


def connect(timeout, targets, sources=None):
    selector = selectors.DefaultSelector()
    results = {}
    for address, port in targets:
        name = f"{address} {port}"
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        s = socket.socket(family, socket.SOCK_STREAM)
        if sources:
            s.bind((sources[1] if family == socket.AF_INET6 else sources[0], 0))
        s.setblocking(False)
        code = s.connect_ex((address, int(port)))
        if code in (0, errno.EINPROGRESS):
            selector.register(s, selectors.EVENT_WRITE, name)
        else:
            results[name] = "refused" if code == errno.ECONNREFUSED else f"error:{errno.errorcode.get(code, code)}"
            s.close()
    deadline = time.monotonic() + timeout
    while selector.get_map():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        for key, _ in selector.select(remaining):
            s = key.fileobj
            code = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code == 0:
                results[key.data] = "connected"
            elif code == errno.ECONNREFUSED:
                results[key.data] = "refused"
            else:
                results[key.data] = f"error:{errno.errorcode.get(code, code)}"
            selector.unregister(s)
            s.close()
    for key in list(selector.get_map().values()):
        results[key.data] = "timeout"
        key.fileobj.close()
    print(json.dumps(results), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve([int(p) for p in sys.argv[2].split(",")])
    elif sys.argv[1] == "connect":
        rest, sources = sys.argv[3:], None
        if rest[:1] == ["--from"]:
            sources, rest = rest[1:3], rest[3:]
        connect(float(sys.argv[2]), list(zip(rest[0::2], rest[1::2])), sources)
    else:
        sys.exit("usage: probe.py serve PORTS | probe.py connect TIMEOUT ADDR PORT ...")
