#!/usr/bin/env python3
"""COUNT short HTTP/1.0 connections to HOST:PORT, one after another: connect, ask, read
the answer to the end (the server closes first, so the backend holds the TIME_WAIT), close.
Prints how many failed and the slowest connect in milliseconds."""
import socket
import sys
import time

host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
failed = 0
slowest = 0.0
for _ in range(count):
    started = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=5) as s:
            slowest = max(slowest, time.monotonic() - started)
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            while s.recv(4096):
                pass
    except OSError:
        failed += 1
print("failed %d slowest_connect_ms %.1f" % (failed, slowest * 1000))
