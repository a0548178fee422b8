#!/usr/bin/env python3
"""Renders what kube-proxy would program for the benchmark's Services, in both of its
netfilter modes, from the same manifests bpfproxy reads:

  gen_kube_proxy_rules.py --cluster DIR --cluster-cidr CIDR --service-cidr CIDR

DIR/kube-proxy/iptables.rules         iptables-restore --noflush input, a cold full sync
DIR/kube-proxy/iptables-change.rules  the partial sync of one endpoint change (kube-proxy
                                      >= 1.28: top-level chains plus the changed Service)
DIR/kube-proxy/nft.rules              nft -f input, a cold full sync (table ip kube-proxy)
DIR/kube-proxy/nft-change.rules       the incremental transaction of the same change
DIR/kube-proxy/*-revert.rules         the change undone, so that trials can alternate

Shapes follow pkg/proxy/iptables/proxier.go and pkg/proxy/nftables/proxier.go: KUBE-SERVICES
-> KUBE-SVC-* -> KUBE-SEP-* with statistic probabilities 1/(n-i) and the 0x4000 masquerade
mark; nftables verdict maps keyed by address . protocol . port, numgen random vmaps.
"""
import argparse
import base64
import hashlib
import json
import os

MASQ = "0x4000"


def port_hash(text):
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:16]


class ServicePort:
    def __init__(self, service, port, endpoints):
        meta = service["metadata"]
        self.name = f'{meta["namespace"]}/{meta["name"]}:{port.get("name", "")}'
        self.nft_name = f'{meta["namespace"]}/{meta["name"]}/{port["protocol"].lower()}/{port.get("name", "")}'
        self.vip = service["spec"]["clusterIP"]
        self.port = port["port"]
        self.proto = port["protocol"].lower()
        self.node_port = port.get("nodePort", 0)
        self.endpoints = endpoints  # [(address, port)]
        self.svc_chain = "KUBE-SVC-" + port_hash(self.name + port["protocol"])
        self.ext_chain = "KUBE-EXT-" + port_hash(self.name + port["protocol"])
        tag = port_hash(self.name + port["protocol"])[:8]
        self.nft_svc = f"service-{tag}-{self.nft_name}"
        self.nft_ext = f"external-{tag}-{self.nft_name}"

    def sep_chain(self, endpoint):
        return "KUBE-SEP-" + port_hash(self.name + self.proto.upper() + f"{endpoint[0]}:{endpoint[1]}")

    def nft_endpoint(self, endpoint):
        tag = port_hash(self.name + self.proto.upper() + f"{endpoint[0]}:{endpoint[1]}")[:8]
        return f"endpoint-{tag}-{self.nft_name}__{endpoint[0]}/{endpoint[1]}"


def load_service_ports(manifests):
    services, slices = [], {}
    for path in sorted(os.listdir(manifests)):
        with open(os.path.join(manifests, path)) as f:
            document = json.load(f)
        for item in document.get("items", [document]):
            if item["kind"] == "Service":
                services.append(item)
            elif item["kind"] == "EndpointSlice":
                owner = item["metadata"]["labels"]["kubernetes.io/service-name"]
                slices[(item["metadata"]["namespace"], owner)] = item
    return [service_ports_of(service, slices) for service in services]


def service_ports_of(service, slices):
    meta = service["metadata"]
    slice_ = slices.get((meta["namespace"], meta["name"]), {"endpoints": [], "ports": []})
    result = []
    for port in service["spec"]["ports"]:
        target = next((p["port"] for p in slice_["ports"] if p.get("name", "") == port.get("name", "")), None)
        endpoints = [(e["addresses"][0], target) for e in slice_["endpoints"]
                     if target and e.get("conditions", {}).get("ready", True)]
        result.append(ServicePort(service, port, endpoints))
    return result


# --- iptables ---------------------------------------------------------------------------

def ipt_service_chains(sp, cluster_cidr):
    """Declarations and rules of one Service port's KUBE-SVC, KUBE-EXT and KUBE-SEP chains."""
    decl, rules = [f":{sp.svc_chain} - [0:0]"], []
    comment = f'"{sp.name} cluster IP"'
    match = f"-m {sp.proto} -p {sp.proto} -d {sp.vip}/32 --dport {sp.port}"
    rules.append(f"-A {sp.svc_chain} -m comment --comment {comment} {match} ! -s {cluster_cidr} -j KUBE-MARK-MASQ")
    n = len(sp.endpoints)
    for i, endpoint in enumerate(sp.endpoints):
        sep = sp.sep_chain(endpoint)
        probability = "" if i == n - 1 else f" -m statistic --mode random --probability {1.0 / (n - i):0.11f}"
        rules.append(f'-A {sp.svc_chain} -m comment --comment "{sp.name} -> {endpoint[0]}:{endpoint[1]}"{probability} -j {sep}')
        decl.append(f":{sep} - [0:0]")
        rules.append(f"-A {sep} -m comment --comment {sp.name} -s {endpoint[0]}/32 -j KUBE-MARK-MASQ")
        rules.append(f"-A {sep} -m comment --comment {sp.name} -m {sp.proto} -p {sp.proto} -j DNAT --to-destination {endpoint[0]}:{endpoint[1]}")
    if sp.node_port:
        decl.append(f":{sp.ext_chain} - [0:0]")
        rules.append(f'-A {sp.ext_chain} -m comment --comment "masquerade traffic for {sp.name} external destinations" -j KUBE-MARK-MASQ')
        rules.append(f"-A {sp.ext_chain} -j {sp.svc_chain}")
    return decl, rules


def ipt_top_level(ports):
    """KUBE-SERVICES and KUBE-NODEPORTS: rewritten by every sync, full or partial."""
    services, nodeports = [], []
    for sp in ports:
        if not sp.endpoints:
            continue
        services.append(f'-A KUBE-SERVICES -m comment --comment "{sp.name} cluster IP" -m {sp.proto} -p {sp.proto} '
                        f"-d {sp.vip}/32 --dport {sp.port} -j {sp.svc_chain}")
        if sp.node_port:
            nodeports.append(f"-A KUBE-NODEPORTS -m comment --comment {sp.name} -m {sp.proto} -p {sp.proto} "
                             f"--dport {sp.node_port} -j {sp.ext_chain}")
    services.append('-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the '
                    'last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS')
    return services, nodeports


FILTER = """*filter
:KUBE-SERVICES - [0:0]
:KUBE-EXTERNAL-SERVICES - [0:0]
:KUBE-FORWARD - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-PROXY-FIREWALL - [0:0]
-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark {masq}/{masq} -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
COMMIT
"""
FILTER_JUMPS = """*filter
-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL
-A INPUT -m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS
-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES
-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL
-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD
-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES
-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL
-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
COMMIT
*nat
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
COMMIT
"""
NAT_HEAD = """*nat
:KUBE-SERVICES - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-MARK-MASQ - [0:0]
-A KUBE-POSTROUTING -m mark ! --mark {masq}/{masq} -j RETURN
-A KUBE-POSTROUTING -j MARK --xor-mark {masq}
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully
-A KUBE-MARK-MASQ -j MARK --or-mark {masq}
"""


def iptables_full(ports, cluster_cidr):
    decl, rules = [], []
    for sp in ports:
        if sp.endpoints:
            d, r = ipt_service_chains(sp, cluster_cidr)
            decl += d
            rules += r
    services, nodeports = ipt_top_level(ports)
    return (FILTER.format(masq=MASQ) + NAT_HEAD.format(masq=MASQ) + "\n".join(decl + services + nodeports + rules)
            + "\nCOMMIT\n" + FILTER_JUMPS)


def iptables_change(ports, old, new, cluster_cidr):
    """A partial restore: top-level chains, the changed Service's chains, the stale SEP deleted."""
    services, nodeports = ipt_top_level(ports)
    decl, rules = ipt_service_chains(new, cluster_cidr)
    stale = [old.sep_chain(e) for e in old.endpoints if e not in new.endpoints]
    decl += [f":{chain} - [0:0]" for chain in stale]  # declaring flushes; then it can go
    rules += [f"-X {chain}" for chain in stale]
    return (NAT_HEAD.format(masq=MASQ) + "\n".join(decl + services + nodeports + rules) + "\nCOMMIT\n")


# --- nftables ---------------------------------------------------------------------------

NFT_BASE = """add table ip kube-proxy {{ comment "rules for kube-proxy" ; }}
add chain ip kube-proxy mark-for-masquerade
add rule ip kube-proxy mark-for-masquerade mark set mark or {masq}
add chain ip kube-proxy masquerading
add rule ip kube-proxy masquerading mark and {masq} == 0 return
add rule ip kube-proxy masquerading mark set mark xor {masq}
add rule ip kube-proxy masquerading masquerade fully-random
add set ip kube-proxy cluster-ips {{ type ipv4_addr ; comment "Active ClusterIPs" ; }}
add map ip kube-proxy firewall-ips {{ type ipv4_addr . inet_proto . inet_service : verdict ; }}
add map ip kube-proxy no-endpoint-services {{ type ipv4_addr . inet_proto . inet_service : verdict ; }}
add map ip kube-proxy no-endpoint-nodeports {{ type inet_proto . inet_service : verdict ; }}
add map ip kube-proxy service-ips {{ type ipv4_addr . inet_proto . inet_service : verdict ; comment "ClusterIP, ExternalIP and LoadBalancer IP traffic" ; }}
add map ip kube-proxy service-nodeports {{ type inet_proto . inet_service : verdict ; comment "NodePort traffic" ; }}
add chain ip kube-proxy firewall-check
add rule ip kube-proxy firewall-check ip daddr . meta l4proto . th dport vmap @firewall-ips
add chain ip kube-proxy service-endpoints-check
add rule ip kube-proxy service-endpoints-check ip daddr . meta l4proto . th dport vmap @no-endpoint-services
add chain ip kube-proxy nodeport-endpoints-check
add rule ip kube-proxy nodeport-endpoints-check fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @no-endpoint-nodeports
add chain ip kube-proxy cluster-ips-check
add rule ip kube-proxy cluster-ips-check ip daddr @cluster-ips reject comment "Reject traffic to invalid ports of ClusterIPs"
add rule ip kube-proxy cluster-ips-check ip daddr {{ {service_cidr} }} drop comment "Drop traffic to unallocated ClusterIPs"
add chain ip kube-proxy services
add rule ip kube-proxy services ip daddr . meta l4proto . th dport vmap @service-ips
add rule ip kube-proxy services fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports
add chain ip kube-proxy filter-prerouting {{ type filter hook prerouting priority -110 ; }}
add rule ip kube-proxy filter-prerouting ct state new jump firewall-check
add chain ip kube-proxy filter-input {{ type filter hook input priority -110 ; }}
add rule ip kube-proxy filter-input ct state new jump nodeport-endpoints-check
add rule ip kube-proxy filter-input ct state new jump service-endpoints-check
add chain ip kube-proxy filter-forward {{ type filter hook forward priority -110 ; }}
add rule ip kube-proxy filter-forward ct state new jump service-endpoints-check
add rule ip kube-proxy filter-forward ct state new jump cluster-ips-check
add chain ip kube-proxy filter-output {{ type filter hook output priority -110 ; }}
add rule ip kube-proxy filter-output ct state new jump service-endpoints-check
add rule ip kube-proxy filter-output ct state new jump firewall-check
add chain ip kube-proxy nat-prerouting {{ type nat hook prerouting priority -100 ; }}
add rule ip kube-proxy nat-prerouting jump services
add chain ip kube-proxy nat-output {{ type nat hook output priority -100 ; }}
add rule ip kube-proxy nat-output jump services
add chain ip kube-proxy nat-postrouting {{ type nat hook postrouting priority 100 ; }}
add rule ip kube-proxy nat-postrouting jump masquerading
"""


def nft_endpoint_chain(sp, endpoint):
    chain = sp.nft_endpoint(endpoint)
    return [f"add chain ip kube-proxy {chain}",
            f"add rule ip kube-proxy {chain} ip saddr {endpoint[0]} jump mark-for-masquerade",
            f"add rule ip kube-proxy {chain} meta l4proto {sp.proto} dnat to {endpoint[0]}:{endpoint[1]}"]


def nft_service_rules(sp, cluster_cidr):
    verdicts = ", ".join(f"{i} : goto {sp.nft_endpoint(e)}" for i, e in enumerate(sp.endpoints))
    return [f"add rule ip kube-proxy {sp.nft_svc} ip daddr {sp.vip} {sp.proto} dport {sp.port} "
            f"ip saddr != {cluster_cidr} jump mark-for-masquerade",
            f"add rule ip kube-proxy {sp.nft_svc} numgen random mod {len(sp.endpoints)} vmap {{ {verdicts} }}"]


def nft_full(ports, cluster_cidr, service_cidr):
    lines = [NFT_BASE.format(masq=MASQ, service_cidr=service_cidr).rstrip("\n")]
    for sp in ports:
        lines.append(f"add element ip kube-proxy cluster-ips {{ {sp.vip} }}")
        if not sp.endpoints:
            continue
        for endpoint in sp.endpoints:
            lines += nft_endpoint_chain(sp, endpoint)
        lines.append(f"add chain ip kube-proxy {sp.nft_svc}")
        lines += nft_service_rules(sp, cluster_cidr)
        lines.append(f"add element ip kube-proxy service-ips {{ {sp.vip} . {sp.proto} . {sp.port} : goto {sp.nft_svc} }}")
        if sp.node_port:
            lines += [f"add chain ip kube-proxy {sp.nft_ext}",
                      f"add rule ip kube-proxy {sp.nft_ext} jump mark-for-masquerade",
                      f"add rule ip kube-proxy {sp.nft_ext} goto {sp.nft_svc}",
                      f"add element ip kube-proxy service-nodeports {{ {sp.proto} . {sp.node_port} : goto {sp.nft_ext} }}"]
    return "\n".join(lines) + "\n"


def nft_change(old, new, cluster_cidr):
    lines = []
    for endpoint in new.endpoints:
        if endpoint not in old.endpoints:
            lines += nft_endpoint_chain(new, endpoint)
    lines.append(f"flush chain ip kube-proxy {new.nft_svc}")
    lines += nft_service_rules(new, cluster_cidr)
    for endpoint in old.endpoints:
        if endpoint not in new.endpoints:
            lines += [f"flush chain ip kube-proxy {old.nft_endpoint(endpoint)}",
                      f"delete chain ip kube-proxy {old.nft_endpoint(endpoint)}"]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cluster", required=True, help="a directory written by gen_manifests.py")
    parser.add_argument("--cluster-cidr", required=True)
    parser.add_argument("--service-cidr", required=True)
    args = parser.parse_args()
    ports = [sp for group in load_service_ports(f"{args.cluster}/manifests") for sp in group]
    with open(f"{args.cluster}/cluster.json") as f:
        probe = json.load(f)["probe"]
    with open(f"{args.cluster}/change/probe.json") as f:
        changed_slice = json.load(f)
    index = next(i for i, sp in enumerate(ports) if sp.name.startswith(f'bench/{probe["service"]}:')
                 and sp.proto == probe["protocol"].lower())
    old = ports[index]
    service = {"metadata": {"namespace": "bench", "name": probe["service"]},
               "spec": {"clusterIP": old.vip, "ports": [{"name": old.name.split(":")[1], "port": old.port,
                                                         "protocol": old.proto.upper(),
                                                         "nodePort": old.node_port}]}}
    new = service_ports_of(service, {("bench", probe["service"]): changed_slice})[0]
    after = ports[:index] + [new] + ports[index + 1:]

    out = f"{args.cluster}/kube-proxy"
    os.makedirs(out, exist_ok=True)
    files = {
        "iptables.rules": iptables_full(ports, args.cluster_cidr),
        "iptables-change.rules": iptables_change(after, old, new, args.cluster_cidr),
        "nft.rules": nft_full(ports, args.cluster_cidr, args.service_cidr),
        "nft-change.rules": nft_change(old, new, args.cluster_cidr),
        "iptables-revert.rules": iptables_change(ports, new, old, args.cluster_cidr),
        "nft-revert.rules": nft_change(new, old, args.cluster_cidr),
    }
    for name, text in files.items():
        with open(f"{out}/{name}", "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
