#!/usr/bin/env python3
"""SCTP (one-to-one style) echo: sctp_echo.py server PORT NAME | client HOST PORT.
The server answers each message with "NAME: <message>"; the client sends one and prints
the answer. The kernel's own SCTP stack, through Debian's python3."""
import socket
import sys

IPPROTO_SCTP = 132

if sys.argv[1] == "server":
    server = socket.socket(socket.AF_INET6, socket.SOCK_STREAM, IPPROTO_SCTP)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("::", int(sys.argv[2])))
    server.listen(16)
    while True:
        conn, _ = server.accept()
        data = conn.recv(4096)
        if data:
            conn.sendall(sys.argv[3].encode() + b": " + data)
        conn.close()
else:
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM, IPPROTO_SCTP)
    client.settimeout(3)
    client.connect((sys.argv[2], int(sys.argv[3])))
    client.sendall(b"hello over sctp " + b"x" * 200)
    print(client.recv(4096).decode())
    print("peer", client.getpeername()[0], client.getpeername()[1])
