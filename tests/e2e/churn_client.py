#!/usr/bin/env python3
"""The churn soak's driver and client, run as a process of the client pod (its cgroup and
network namespace): it churns the manifests the agent reads and, at the same time, sends
short TCP requests and DNS queries through ClusterIPs, then prints a JSON summary.

  churn_client.py MANIFEST_DIR TMP_DIR SECONDS

Churn: every 100 ms the web Service's slice changes (nginx-2 added, removed, ready and not
ready in turn; nginx-1 always ready) and kube-dns's slice gains and loses a not-ready
endpoint; every ~2.5 s a Service is created, used, deleted, and its ClusterIP tried again.
Files are written beside the directory and renamed in, as kubectl-like writers do."""
import json
import os
import socket
import struct
import sys
import threading
import time

WEB_VIP, DNS_VIP = "10.32.0.180", "10.32.0.10"
NGINX1, NGINX2, DNS_POD = "10.200.0.2", "10.200.128.1", "10.200.128.2"
SETTLE = 1.0  # time given to the agent to apply a Service's creation or deletion

manifests, tmp, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
stop = threading.Event()
lock = threading.Lock()
counts = {k: 0 for k in (
    "web_ok", "web_failed", "dns_ok", "dns_failed", "endpoint_changes", "services_created",
    "services_deleted", "created_ok", "created_failed", "deleted_refused", "deleted_hung",
    "deleted_answered")}
errors = []


def count(key, error=None):
    with lock:
        counts[key] += 1
        if error and len(errors) < 20:
            errors.append(f"{key}: {error}")


def install(name, text):
    temp = os.path.join(tmp, name + ".tmp")
    with open(temp, "w") as f:
        f.write(text)
    os.rename(temp, os.path.join(manifests, name))


def service(name, vip, port=80, protocol="TCP"):
    return (f"apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: churn}}\n"
            f"spec:\n  clusterIP: {vip}\n  ports: [{{port: {port}, protocol: {protocol}}}]\n")


def slice_(name, service_name, endpoints, port=80, protocol="TCP"):
    lines = [f"apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
             f"metadata: {{name: {name}, namespace: churn, labels: {{kubernetes.io/service-name: {service_name}}}}}\n"
             f"addressType: IPv4\nports: [{{port: {port}, protocol: {protocol}}}]\nendpoints:"]
    for address, ready in endpoints:
        lines.append(f"- {{addresses: [{address}], conditions: {{ready: {str(ready).lower()}}}}}")
    return "\n".join(lines) + "\n"


def http_get(vip, timeout=3.0):
    """'ok', or the error: 'refused' (connect failed at once), 'hung' (timed out), other."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((vip, 80))
        s.sendall(b"GET / HTTP/1.0\r\nHost: churn\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        return "ok" if data.startswith(b"HTTP/1.1 200") else "bad answer %r" % data[:40]
    except socket.timeout:
        return "hung"
    except (ConnectionRefusedError, OSError) as e:
        return "refused" if isinstance(e, ConnectionRefusedError) or e.errno in (101, 111, 113) else str(e)
    finally:
        s.close()


def dns_query():
    header = struct.pack("!HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0)
    labels = b"".join(bytes([len(p)]) + p.encode() for p in "kubernetes.default.svc.cluster.local".split("."))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # unconnected: sendmsg/recvmsg hooks
    s.settimeout(2)
    try:
        s.sendto(header + labels + b"\0" + struct.pack("!HH", 1, 1), (DNS_VIP, 53))
        packet, source = s.recvfrom(4096)
        if source[0] != DNS_VIP:
            return f"answer from {source[0]}"
        return "ok" if struct.unpack("!H", packet[6:8])[0] >= 1 else "no answer record"
    except OSError as e:
        return str(e) or type(e).__name__
    finally:
        s.close()


def churn_endpoints():
    web_states = [[(NGINX1, True), (NGINX2, True)], [(NGINX1, True), (NGINX2, False)], [(NGINX1, True)],
                  [(NGINX2, True), (NGINX1, True)]]
    dns_states = [[(DNS_POD, True)], [(DNS_POD, True), ("10.200.128.99", False)]]
    i = 0
    while not stop.is_set():
        install("web-slice.yaml", slice_("web-1", "web", web_states[i % len(web_states)]))
        install("dns-slice.yaml", slice_("dns-1", "dns", dns_states[i % len(dns_states)], 53, "UDP"))
        count("endpoint_changes")
        i += 1
        stop.wait(0.1)


def web_client():
    while not stop.is_set():
        result = http_get(WEB_VIP)
        count("web_ok" if result == "ok" else "web_failed", None if result == "ok" else result)
        stop.wait(0.02)


def dns_client():
    while not stop.is_set():
        result = dns_query()
        count("dns_ok" if result == "ok" else "dns_failed", None if result == "ok" else result)
        stop.wait(0.05)


def services_lifecycle():
    k = 0
    while not stop.is_set():
        name, vip = f"eph-{k}", f"10.32.0.{190 + k % 8}"
        install("eph.yaml", service(name, vip) + "---\n" + slice_(name + "-1", name, [(NGINX1, True)]))
        count("services_created")
        if stop.wait(SETTLE):
            break
        for _ in range(3):
            result = http_get(vip)
            count("created_ok" if result == "ok" else "created_failed", None if result == "ok" else f"{vip}: {result}")
        os.unlink(os.path.join(manifests, "eph.yaml"))
        count("services_deleted")
        if stop.wait(SETTLE):
            break
        for _ in range(3):
            result = http_get(vip, timeout=1.0)
            key = {"ok": "deleted_answered", "refused": "deleted_refused", "hung": "deleted_hung"}.get(result, "deleted_hung")
            count(key, None if key == "deleted_refused" else f"{vip}: {result}")
        k += 1


def main():
    install("web.yaml", service("web", WEB_VIP))
    install("dns.yaml", service("dns", DNS_VIP, 53, "UDP"))
    install("web-slice.yaml", slice_("web-1", "web", [(NGINX1, True)]))
    install("dns-slice.yaml", slice_("dns-1", "dns", [(DNS_POD, True)], 53, "UDP"))
    time.sleep(SETTLE * 2)
    threads = [threading.Thread(target=t) for t in (churn_endpoints, web_client, dns_client, services_lifecycle)]
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    print(json.dumps({"counts": counts, "errors": errors}))


if __name__ == "__main__":
    main()
