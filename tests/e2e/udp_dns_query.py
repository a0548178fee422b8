#!/usr/bin/env python3
"""Sends one DNS A query for NAME to SERVER:53 from an unconnected UDP socket (sendto and
recvfrom), and prints the address the answer came from and the addresses it holds. With
bpfproxy, the answer must appear to come from the ClusterIP the query was sent to. With
--hold the socket stays open until standard input closes (at most 60 s): its per-socket
state lives only as long as the socket."""
import select
import socket
import struct
import sys


def query(name):
    header = struct.pack("!HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0)
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return header + labels + struct.pack("!HH", 1, 1)


def answers(packet):
    count = struct.unpack("!H", packet[6:8])[0]
    offset = 12
    while packet[offset] != 0:
        offset += packet[offset] + 1
    offset += 5
    found = []
    for _ in range(count):
        offset += 2 if packet[offset] & 0xC0 == 0xC0 else packet.index(b"\0", offset) + 1 - offset
        rtype, _, _, length = struct.unpack("!HHIH", packet[offset:offset + 10])
        offset += 10
        if rtype == 1 and length == 4:
            found.append(socket.inet_ntoa(packet[offset:offset + 4]))
        offset += length
    return found


def main():
    server, name = sys.argv[1], sys.argv[2]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(3)
    sock.sendto(query(name), (server, 53))
    packet, source = sock.recvfrom(4096)
    print(f"from={source[0]}:{source[1]} answers={','.join(answers(packet))}", flush=True)
    if "--hold" in sys.argv[3:]:
        select.select([sys.stdin], [], [], 60)
    sock.close()


if __name__ == "__main__":
    main()
