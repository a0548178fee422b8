#!/usr/bin/env python3
"""Writes the benchmark cluster: N Services with 10 endpoints each, as one JSON `kind: List`
(fast to parse), plus the load generator's target lists.

  gen_manifests.py --services N --out DIR

DIR/manifests/services.json  every Service and EndpointSlice except the probe Service's slice
DIR/manifests/probe.json     the probe Service's slice alone: the endpoint-change benchmark
                             rewrites only this file
DIR/change/probe.json        the same slice with its first endpoint replaced
DIR/manifests-yaml/*.yaml    the same objects, probe slice included, written the way people
                             write manifests: 100 multi-document YAML files (the YAML case)
DIR/targets/*.txt            "address port" lines the load generator cycles through
DIR/cluster.json             the addresses the benchmark and gen_kube_proxy_rules.py need

Service i: ClusterIP 10.32.0.10 + i; TCP port 80 -> 8080, except every tenth Service,
which is DNS-like (UDP 53 -> 5353; the one-Service cluster has both ports); every fifth is a NodePort (30000 + i/5). Endpoint j of
Service i is 10.64.0.1 + 10 i + j: the server namespace answers the whole 10.64.0.0/14.
"""
import argparse
import ipaddress
import json
import os

import yaml

ENDPOINTS_PER_SERVICE = 10
SERVICE_BASE = ipaddress.IPv4Address("10.32.0.10")
ENDPOINT_BASE = ipaddress.IPv4Address("10.64.0.1")
CHANGED_ENDPOINT = ipaddress.IPv4Address("10.66.0.1")  # outside every generated slice
NODE_PORT_BASE = 30000
NAMESPACE = "bench"
SAMPLES = 100  # Services the load generator spreads its connections over


HTTP = {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}
DNS = {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 5353}


def service_kind(i, n):
    """(TCP?, UDP?, node port or 0). A single Service carries both ports, so that the
    one-Service run measures UDP too."""
    udp = i % 10 == 9 or n == 1
    tcp = i % 10 != 9
    node_port = NODE_PORT_BASE + i // 5 if i % 5 == 0 and i // 5 < 2700 else 0
    return tcp, udp, node_port


def service_ports(i, n):
    tcp, udp, node_port = service_kind(i, n)
    ports = []
    if tcp:
        ports.append(dict(HTTP, nodePort=node_port) if node_port else dict(HTTP))
    if udp:
        ports.append(dict(DNS))
    return ports


def service(i, n):
    node_port = service_kind(i, n)[2]
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": f"svc-{i:05d}", "namespace": NAMESPACE},
        "spec": {"type": "NodePort" if node_port else "ClusterIP",
                 "clusterIP": str(SERVICE_BASE + i), "clusterIPs": [str(SERVICE_BASE + i)],
                 "ports": service_ports(i, n)},
    }


def endpoints(i):
    return [str(ENDPOINT_BASE + ENDPOINTS_PER_SERVICE * i + j) for j in range(ENDPOINTS_PER_SERVICE)]


def endpoint_slice(i, n, addresses):
    return {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": f"svc-{i:05d}-b7x9q", "namespace": NAMESPACE,
                     "labels": {"kubernetes.io/service-name": f"svc-{i:05d}"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [a], "conditions": {"ready": True}, "nodeName": "server"}
                      for a in addresses],
        "ports": [{"name": p["name"], "port": p["targetPort"], "protocol": p["protocol"]}
                  for p in service_ports(i, n)],
    }


def sample(indices, count):
    """Up to `count` indices spread evenly over the list: rule position matters for iptables."""
    if len(indices) <= count:
        return indices
    step = len(indices) / count
    return [indices[int(k * step)] for k in range(count)]


def write_json(path, value):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(value, f, separators=(",", ":"))


def write_yaml_files(directory, items, files=100):
    """items spread over `files` multi-document YAML files, in order."""
    os.makedirs(directory, exist_ok=True)
    per_file = max(1, -(-len(items) // files))
    for k in range(0, len(items), per_file):
        with open(f"{directory}/part-{k // per_file:03d}.yaml", "w") as f:
            yaml.safe_dump_all(items[k:k + per_file], f, default_flow_style=False, sort_keys=False)


def write_targets(path, rows):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.writelines(f"{address} {port}\n" for address, port in rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    n = args.services
    probe = (n // 2) // 10 * 10  # a TCP Service in the middle of kube-proxy's chains: neither best nor worst case

    items = []
    for i in range(n):
        items.append(service(i, n))
        if i != probe:
            items.append(endpoint_slice(i, n, endpoints(i)))
    write_json(f"{args.out}/manifests/services.json", {"apiVersion": "v1", "kind": "List", "items": items})
    write_json(f"{args.out}/manifests/probe.json", endpoint_slice(probe, n, endpoints(probe)))
    write_yaml_files(f"{args.out}/manifests-yaml", items + [endpoint_slice(probe, n, endpoints(probe))])
    changed = [str(CHANGED_ENDPOINT)] + endpoints(probe)[1:]
    write_json(f"{args.out}/change/probe.json", endpoint_slice(probe, n, changed))

    tcp = [i for i in range(n) if service_kind(i, n)[0]]
    udp = [i for i in range(n) if service_kind(i, n)[1]]
    node_ports = [i for i in range(n) if service_kind(i, n)[2]]
    tcp_s, udp_s, np_s = sample(tcp, SAMPLES), sample(udp, SAMPLES), sample(node_ports, SAMPLES)
    # Direct rows go to one endpoint of each sampled Service, spread over the ten.
    write_targets(f"{args.out}/targets/tcp-vip.txt", [(SERVICE_BASE + i, 80) for i in tcp_s])
    write_targets(f"{args.out}/targets/tcp-direct.txt",
                  [(endpoints(i)[k % ENDPOINTS_PER_SERVICE], 8080) for k, i in enumerate(tcp_s)])
    write_targets(f"{args.out}/targets/udp-vip.txt", [(SERVICE_BASE + i, 53) for i in udp_s])
    write_targets(f"{args.out}/targets/udp-direct.txt",
                  [(endpoints(i)[k % ENDPOINTS_PER_SERVICE], 5353) for k, i in enumerate(udp_s)])
    write_targets(f"{args.out}/targets/nodeport.txt", [("NODE_IP", service_kind(i, n)[2]) for i in np_s])
    write_targets(f"{args.out}/targets/nodeport-direct.txt",
                  [(endpoints(i)[k % ENDPOINTS_PER_SERVICE], 8080) for k, i in enumerate(np_s)])
    write_json(f"{args.out}/cluster.json", {
        "services": n, "endpoints_per_service": ENDPOINTS_PER_SERVICE,
        "probe": {"service": f"svc-{probe:05d}", "vip": str(SERVICE_BASE + probe),
                  "port": 80, "protocol": "TCP", "target_port": 8080,
                  "old_endpoint": endpoints(probe)[0], "new_endpoint": str(CHANGED_ENDPOINT)},
        "stream_vip": str(SERVICE_BASE + tcp[0]), "stream_endpoint": endpoints(tcp[0])[0],
    })


if __name__ == "__main__":
    main()
