#!/usr/bin/env python3
"""One TCP connection to ADDRESS:PORT kept open for SECONDS, sending an HTTP request on it
every 100 ms. Exits 0 only if every request on that one connection was answered.
With STOP_FILE it runs until that file exists instead (a test touches it once everything
the connection must survive is over, however long that took on a loaded machine); SECONDS
is then only a bound, and reaching it first is a failure (exit 2)."""
import os
import socket
import sys
import time


def read_response(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("connection closed")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    while len(body) < length:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("connection closed mid-body")
        body += chunk
    return head.split(b"\r\n")[0], body


def main():
    address, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    stop_file = sys.argv[4] if len(sys.argv) > 4 else None
    sock = socket.create_connection((address, port), timeout=10)  # a loaded machine is slow, not broken
    peer = sock.getpeername()
    answered = 0
    deadline = time.time() + seconds
    try:
        while stop_file is None or not os.path.exists(stop_file):
            if time.time() >= deadline:
                if stop_file is None:
                    break
                print(f"peer={peer[0]}:{peer[1]} answered={answered} error=no {stop_file} after {seconds}s")
                return 2
            sock.sendall(b"GET / HTTP/1.1\r\nHost: nginx\r\n\r\n")
            status, _ = read_response(sock)
            if b" 200 " not in status:
                raise ConnectionError(status.decode())
            answered += 1
            if answered == 1:  # a test waits for this line before it injects a fault
                print(f"connected peer={peer[0]}:{peer[1]}", flush=True)
            time.sleep(0.1)
    except (OSError, ConnectionError) as error:
        print(f"peer={peer[0]}:{peer[1]} answered={answered} error={error}")
        return 1
    print(f"peer={peer[0]}:{peer[1]} answered={answered} error=none")
    return 0


if __name__ == "__main__":
    sys.exit(main())
