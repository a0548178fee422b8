#!/usr/bin/env python3
"""Writes the rules kube-proxy would program for a directory of e2e manifests (YAML), in
the shapes of bench/gen_kube_proxy_rules.py (pkg/proxy/iptables and pkg/proxy/nftables):

  kube_proxy_rules.py MANIFESTS_DIR CLUSTER_CIDR SERVICE_CIDR OUT_DIR

OUT_DIR/iptables.rules  iptables-restore --noflush input (filter and nat, IPv4)
OUT_DIR/nft.rules       nft -f input (table ip kube-proxy)
"""
import os
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from gen_kube_proxy_rules import iptables_full, nft_full, service_ports_of  # noqa: E402


def main():
    manifests, cluster_cidr, service_cidr, out = sys.argv[1:5]
    services, slices = [], {}
    for path in sorted(Path(manifests).glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc:
                continue
            if doc["kind"] == "Service" and doc["spec"].get("clusterIP", "None") != "None":
                services.append(doc)
            elif doc["kind"] == "EndpointSlice" and doc.get("addressType") == "IPv4":
                owner = doc["metadata"]["labels"]["kubernetes.io/service-name"]
                slices[(doc["metadata"].get("namespace", "default"), owner)] = doc
    for service in services:
        service["metadata"].setdefault("namespace", "default")
    ports = [sp for service in services for sp in service_ports_of(service, slices)]
    os.makedirs(out, exist_ok=True)
    Path(out, "iptables.rules").write_text(iptables_full(ports, cluster_cidr))
    Path(out, "nft.rules").write_text(nft_full(ports, cluster_cidr, service_cidr))


if __name__ == "__main__":
    main()
