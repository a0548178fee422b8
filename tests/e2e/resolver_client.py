#!/usr/bin/env python3
"""A resolver that keeps one connected UDP socket to SERVER:53, as stub resolvers do: it
asks for NAME every 50 ms for SECONDS, waits up to 200 ms for each answer, and opens a new
socket only when the old one fails. One line per event, with CLOCK_MONOTONIC seconds:
"answer T", "timeout T", "error T ERRNO-NAME", "connect-error T ERRNO-NAME"."""
import errno
import socket
import struct
import sys
import time

server, name, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])


def query(ident):
    header = struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0)
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return header + labels + struct.pack("!HH", 1, 1)


def say(*words):
    print(" ".join(str(w) for w in words), flush=True)


sock = None
ident = 0
deadline = time.monotonic() + seconds
while time.monotonic() < deadline:
    if sock is None:
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.settimeout(0.2)
            sock.connect((server, 53))
        except OSError as failure:
            say("connect-error", "%.3f" % time.monotonic(), errno.errorcode.get(failure.errno, failure.errno))
            sock = None
            time.sleep(0.05)
            continue
    ident = (ident + 1) & 0xFFFF
    try:
        sock.send(query(ident))
        while True:
            answer = sock.recv(4096)
            if answer[:2] == struct.pack("!H", ident):
                break
        say("answer", "%.3f" % time.monotonic())
    except socket.timeout:
        say("timeout", "%.3f" % time.monotonic())
    except OSError as failure:
        say("error", "%.3f" % time.monotonic(), errno.errorcode.get(failure.errno, failure.errno))
        sock.close()
        sock = None
    time.sleep(0.05)
