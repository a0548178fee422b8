#!/usr/bin/env python3
"""Counts the keys of a pinned BPF map through the bpf syscall, and SIGKILLs a process
the moment the map holds a given number more than it did: the agent dies mid-sync.

  kill_mid_sync.py count MAP_PIN
  kill_mid_sync.py kill MAP_PIN PID BASELINE MORE [TIMEOUT_S]
prints the key count it saw when it killed (or "timeout")."""
import ctypes
import os
import signal
import struct
import sys
import time

BPF_MAP_GET_NEXT_KEY, BPF_OBJ_GET, BPF_MAP_GET_FD_INFO = 4, 7, 15
SYS_BPF = 321  # x86_64
libc = ctypes.CDLL(None, use_errno=True)


def bpf(cmd, attr):
    buf = ctypes.create_string_buffer(attr, 128)
    return libc.syscall(SYS_BPF, cmd, buf, 128), buf


def obj_get(path):
    name = ctypes.create_string_buffer(path.encode())
    fd, _ = bpf(BPF_OBJ_GET, struct.pack("QII", ctypes.addressof(name), 0, 0))
    return fd


def key_size(fd):
    info = ctypes.create_string_buffer(128)
    # BPF_OBJ_GET_INFO_BY_FD: bpf_fd, info_len, info pointer; bpf_map_info: type, id, key_size
    rc, _ = bpf(BPF_MAP_GET_FD_INFO, struct.pack("IIQ", fd, 128, ctypes.addressof(info)))
    return struct.unpack_from("III", info.raw)[2] if rc == 0 else 0


def count(fd, size, limit=1 << 30):
    key = ctypes.create_string_buffer(size)
    nxt = ctypes.create_string_buffer(size)
    n, first = 0, True
    while n < limit:
        rc, _ = bpf(BPF_MAP_GET_NEXT_KEY, struct.pack("IIQQ", fd, 0, 0 if first else ctypes.addressof(key),
                                                      ctypes.addressof(nxt)))
        if rc != 0:
            break
        ctypes.memmove(key, nxt, size)
        first = False
        n += 1
    return n


def main():
    mode, pin = sys.argv[1], sys.argv[2]
    if mode == "count":
        fd = obj_get(pin)
        print(count(fd, key_size(fd)) if fd >= 0 else 0)
        return
    pid, baseline, more = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    deadline = time.monotonic() + (float(sys.argv[6]) if len(sys.argv) > 6 else 60)
    fd = -1
    while time.monotonic() < deadline:
        if fd < 0:
            fd = obj_get(pin)
        if fd >= 0:
            size = key_size(fd)
            seen = count(fd, size, baseline + more)
            if seen >= baseline + more:
                os.kill(pid, signal.SIGKILL)
                print(seen)
                return
        time.sleep(0.002)
    print("timeout")


if __name__ == "__main__":
    main()
