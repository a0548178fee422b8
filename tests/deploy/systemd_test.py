#!/usr/bin/env python3
"""Checks of deploy/systemd: `systemd-analyze verify` accepts the unit (it works without
systemd as PID 1; a warning counts as a failure), the unit restarts the agent and never
cleans up on stop, and every flag in the example environment file is one the agent
registers.

Usage: systemd_test.py [REPO_ROOT]. Exit 0 pass, 1 fail, 77 when systemd-analyze is absent
(only the verify step needs it; the other checks still run first).
"""
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from agent_cli import agent_flags  # noqa: E402

ROOT = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "systemd" / "bpfproxy.service"
ENV = ROOT / "deploy" / "systemd" / "bpfproxy.env"
failures = []


def directives(text):
    found = {}
    for line in text.splitlines():
        match = re.match(r"([A-Za-z]+)=(.*)", line)
        if match:
            found.setdefault(match.group(1), []).append(match.group(2))
    return found


def main():
    unit = UNIT.read_text()
    found = directives(unit)
    expect = {"Restart": "always", "After": "network-online.target", "Wants": "network-online.target"}
    for key, value in expect.items():
        if value not in found.get(key, []):
            failures.append(f"bpfproxy.service: no {key}={value}")
    if "ExecStop" in found or "ExecStopPost" in found:
        failures.append("bpfproxy.service: stopping must leave the pins (no ExecStop/ExecStopPost)")
    if re.search(r"\bcleanup\b", " ".join(sum((v for k, v in found.items() if k.startswith("Exec")), []))):
        failures.append("bpfproxy.service: runs bpfproxy cleanup")
    if not any("mount -t bpf" in v for v in found.get("ExecStartPre", [])):
        failures.append("bpfproxy.service: no ExecStartPre mounting bpffs")
    for unsafe in ("PrivateNetwork", "PrivateUsers", "DynamicUser", "User", "MemoryDenyWriteExecute"):
        if found.get(unsafe, ["no"])[-1] not in ("no", "false", "root"):
            failures.append(f"bpfproxy.service: {unsafe} breaks the agent (docs/deploy.md says why)")

    registered, _ = agent_flags(ROOT)
    env = ENV.read_text()
    match = re.search(r'^BPFPROXY_ARGS="([^"]*)"', env, re.M)
    if not match:
        failures.append("bpfproxy.env: no BPFPROXY_ARGS=\"...\" line")
    else:
        args = shlex.split(match.group(1))
        for flag in (a for a in args if a.startswith("--")):
            if flag.split("=")[0] not in registered:
                failures.append(f"bpfproxy.env: the agent has no flag {flag}")
        text = " ".join(args)
        for wanted in ("--kubeconfig /var/lib/kube-proxy/kubeconfig", "--service-cidr 10.32.0.0/24"):
            if wanted not in text:
                failures.append(f"bpfproxy.env: no '{wanted}' (the tutorial's cluster)")

    analyze = shutil.which("systemd-analyze")
    if analyze:
        with tempfile.TemporaryDirectory() as tmp:
            # verify checks that ExecStart's binary exists: point it at a stand-in.
            stand_in = Path(tmp) / "bpfproxy"
            stand_in.write_text("#!/bin/sh\n")
            stand_in.chmod(0o755)
            copy = Path(tmp) / "bpfproxy.service"
            copy.write_text(unit.replace("/usr/local/bin/bpfproxy", str(stand_in)))
            result = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True,
                                    env=dict(os.environ, SYSTEMD_LOG_COLOR="0"))
            output = (result.stdout + result.stderr).strip()
            # Lines about other units (the host's own) are not ours to judge.
            ours = [l for l in output.splitlines() if "bpfproxy" in l]
            if result.returncode != 0 or ours:
                failures.append("systemd-analyze verify:\n  " + "\n  ".join(output.splitlines()))

    for message in failures:
        print(f"FAIL {message}")
    if failures:
        return 1
    if not analyze:
        print("skip: systemd-analyze not installed (apt-get install systemd); the other checks passed")
        return 77
    print("ok: unit verified by systemd-analyze, environment file flags exist")
    return 0


if __name__ == "__main__":
    sys.exit(main())
