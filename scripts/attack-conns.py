#!/usr/bin/env python3
# Attack 7a (issue 13) against a running lookoutd: N idle sockets to the metrics port
# and N to the websocket port, then time /healthz and /readyz, count the daemon's
# fds, and time how long a partial request header is kept open.
# Usage: attack-conns.py DAEMON_PID METRICS_PORT WS_PORT N   (run with ulimit -n > 2N)
import socket, sys, time, os
pid, mport, wport, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
held = []
for port in (mport, wport):
    for _ in range(n):
        s = socket.socket(); s.setblocking(True)
        try:
            s.connect(("127.0.0.1", port)); held.append(s)
        except OSError as e:
            print("connect failed", port, e); break
time.sleep(1.0)
def get(path):
    t = time.time(); s = socket.create_connection(("127.0.0.1", mport), timeout=10)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    buf = b""
    while True:
        try:
            d = s.recv(4096)
        except OSError as e:
            break
        if not d: break
        buf += d
    return buf.split(b"\r\n")[0].decode(errors="replace"), round((time.time()-t)*1000, 1)
print("held", len(held), "daemon fds", len(os.listdir(f"/proc/{pid}/fd")))
for p in ("/healthz", "/readyz"):
    print(p, *get(p))
# a partial header: how long until the server closes it
s = socket.create_connection(("127.0.0.1", wport)); s.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\n")
t = time.time(); s.settimeout(80)
try:
    while s.recv(4096): pass
except OSError: pass
print("partial header closed after", round(time.time()-t, 1), "s")
print("after: daemon fds", len(os.listdir(f"/proc/{pid}/fd")))
for p in ("/healthz", "/readyz"):
    print(p, *get(p))

