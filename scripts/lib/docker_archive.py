#!/usr/bin/env python3
"""Writes a one-layer docker-archive (the format of `docker save`, read by `ctr images
import` and `podman load`) from a root filesystem directory:

  docker_archive.py ROOTFS NAME:TAG OUT

Reproducible: entries sorted, owned by root, mtime 0.
"""
import hashlib
import io
import json
import os
import sys
import tarfile


def layer_bytes(rootfs):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for directory, dirs, files in os.walk(rootfs):
            dirs.sort()
            for name in sorted(dirs) + sorted(files):
                path = os.path.join(directory, name)
                info = tar.gettarinfo(path, arcname=os.path.relpath(path, rootfs))
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                info.mtime = 0
                if info.isfile():
                    with open(path, "rb") as f:
                        tar.addfile(info, f)
                else:
                    tar.addfile(info)
    return buffer.getvalue()


def add(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def main():
    rootfs, image, out = sys.argv[1:4]
    layer = layer_bytes(rootfs)
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = {
        "architecture": {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine),
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": {"Env": ["PATH=/usr/sbin:/usr/bin"], "Entrypoint": ["/usr/bin/bpfproxy"],
                   "Cmd": ["agent"], "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "scripts/image.sh"}],
    }
    config_bytes = json.dumps(config, sort_keys=True).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    layer_name = diff_id.split(":")[1] + "/layer.tar"
    manifest = [{"Config": config_name, "RepoTags": [image], "Layers": [layer_name]}]
    repository, _, tag = image.rpartition(":")
    with tarfile.open(out + ".tmp", "w") as tar:
        add(tar, config_name, config_bytes)
        add(tar, layer_name, layer)
        add(tar, "manifest.json", json.dumps(manifest).encode())
        add(tar, "repositories", json.dumps({repository: {tag: diff_id.split(":")[1]}}).encode())
    os.replace(out + ".tmp", out)


if __name__ == "__main__":
    main()
