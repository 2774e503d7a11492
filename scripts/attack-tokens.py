#!/usr/bin/env python3
# Attack 10 (issue 13): serial token guesses from one address for SECONDS; prints how
# many were answered, then how long the right token (s3cret) takes.
# Usage: attack-tokens.py WS_PORT SECONDS   (daemon started with --token s3cret)
import socket, os, sys, time, base64, struct
port, secs = int(sys.argv[1]), float(sys.argv[2])
def frame(payload):
    mask = os.urandom(4); b = bytes(x ^ mask[i % 4] for i, x in enumerate(payload))
    n = len(payload)
    hdr = bytes([0x81, 0x80 | n]) if n < 126 else bytes([0x81, 0xFE]) + struct.pack(">H", n)
    return hdr + mask + b
def read_frame(s):
    h = s.recv(2, socket.MSG_WAITALL); n = h[1] & 0x7F
    if n == 126: n = struct.unpack(">H", s.recv(2, socket.MSG_WAITALL))[0]
    return h[0] & 0x0F, s.recv(n, socket.MSG_WAITALL) if n else b""
def guess(tok):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(f"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
    buf = b""
    while b"\r\n\r\n" not in buf: buf += s.recv(1)
    read_frame(s)  # hello
    s.sendall(frame(('{"type":"hello","protocol":1,"token":"%s"}' % tok).encode()))
    while True:
        op, p = read_frame(s)
        if op == 1 and b"unauthorized" in p: break
        if op == 1 and b"welcome" in p: return True
    s.close(); return False
t0 = time.time(); n = 0
while time.time() - t0 < secs:
    guess(f"g{n}"); n += 1
print(f"{n} wrong tokens answered in {time.time()-t0:.1f} s")
t = time.time(); print("right token welcomed:", guess("s3cret"), f"in {1000*(time.time()-t):.0f} ms")
