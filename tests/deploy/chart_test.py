#!/usr/bin/env python3
"""The Helm chart, rendered by scripts/render-chart.sh (Go text/template with sprig and
Helm's functions) for several sets of values, parsed with a real YAML library and every
object validated against the Kubernetes API schemas (tests/deploy/k8s_validate.mjs, the
kubernetes-models package, unknown fields rejected). Then what a replacement for kube-proxy
must hold: deploy/bpfproxy.yaml is the default rendering; no privileged container and only
the capabilities the agent needs; RBAC with only what the agent reads; each value reaching
the flag it names, and every flag one the agent registers; required values refused with a
message naming them.

Usage: chart_test.py [REPO_ROOT]. Exit 0 pass, 1 fail, 77 when the renderer (go, sprig),
PyYAML, node or kubernetes-models is missing (the checks that can run still run first).
"""
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from agent_cli import agent_flags  # noqa: E402

ROOT = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else Path(__file__).resolve().parents[2]
RENDER = ROOT / "scripts" / "render-chart.sh"
VALIDATOR = Path(__file__).resolve().parent / "k8s_validate.mjs"
SKIP = 77
failures = []
skipped = []

try:
    import yaml
except ImportError:
    print("skip: PyYAML is not installed (apt-get install python3-yaml)")
    sys.exit(SKIP)


def fail(message):
    failures.append(message)


class Unavailable(Exception):
    pass


def render(*args):
    """(manifests text, objects) of one rendering; raises Unavailable when it cannot run."""
    result = subprocess.run([str(RENDER), *args], capture_output=True, text=True)
    if result.returncode == SKIP:
        raise Unavailable(result.stderr.strip())
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip() or f"render-chart.sh exited {result.returncode}")
    objects = [doc for doc in yaml.safe_load_all(result.stdout) if doc is not None]
    return result.stdout, objects


def validate_schemas(label, objects):
    node = shutil.which("node")
    if not node:
        skipped.append("node is not installed: schemas not checked")
        return
    result = subprocess.run([node, str(VALIDATOR)], input=json.dumps(objects), capture_output=True, text=True)
    if result.returncode == SKIP:
        skipped.append(result.stdout.strip())
    elif result.returncode != 0:
        fail(f"{label}: schema validation:\n  " + "\n  ".join((result.stdout + result.stderr).strip().splitlines()))


def by_kind(objects, kind):
    found = [o for o in objects if o.get("kind") == kind]
    return found[0] if len(found) == 1 else None


def containers(daemonset, init=False):
    spec = daemonset["spec"]["template"]["spec"]
    return spec.get("initContainers" if init else "containers") or []


def agent_args(daemonset):
    agent = [c for c in containers(daemonset) if c["name"] == "bpfproxy"][0]
    assert agent["command"] == ["bpfproxy"] and agent["args"][0] == "agent"
    flags = {}
    for arg in agent["args"][1:]:
        name, _, value = arg.partition("=")
        flags[name] = value
    return flags


def check_common(label, objects, values):
    """What every rendering must hold; `values` are the values it was rendered with."""
    daemonset = by_kind(objects, "DaemonSet")
    role = by_kind(objects, "ClusterRole")
    if not daemonset or not role:
        fail(f"{label}: expected one DaemonSet and one ClusterRole, got {[o.get('kind') for o in objects]}")
        return None
    pod = daemonset["spec"]["template"]["spec"]
    if not pod.get("hostNetwork"):
        fail(f"{label}: the pod must use the host network")
    registered, _ = agent_flags(ROOT)
    flags = agent_args(daemonset)
    for flag in flags:
        if flag not in registered:
            fail(f"{label}: the agent has no flag {flag}")
    for container in containers(daemonset) + containers(daemonset, init=True):
        security = container.get("securityContext") or {}
        if security.get("privileged") is not False:
            fail(f"{label}: container {container['name']} is not explicitly unprivileged")
        if security.get("allowPrivilegeEscalation") is not False:
            fail(f"{label}: container {container['name']} allows privilege escalation")
        caps = security.get("capabilities") or {}
        if caps.get("drop") != ["ALL"]:
            fail(f"{label}: container {container['name']} does not drop all capabilities first")
        for mount in container.get("volumeMounts") or []:
            if mount.get("mountPropagation") == "Bidirectional":
                fail(f"{label}: Bidirectional mount propagation needs a privileged container")
    agent = [c for c in containers(daemonset) if c["name"] == "bpfproxy"][0]
    ports = {p["name"]: p["containerPort"] for p in agent["ports"]}
    health_port = values["health"]["port"]
    if ports.get("healthz") != health_port or not flags.get("--healthz-bind-address", "").endswith(f":{health_port}"):
        fail(f"{label}: the health port {health_port} is not the container port and flag")
    for probe, path in (("livenessProbe", "/livez"), ("readinessProbe", "/healthz")):
        get = (agent.get(probe) or {}).get("httpGet") or {}
        if get.get("path") != path or get.get("port") not in ("healthz", health_port):
            fail(f"{label}: {probe} is not GET {path} on the health port")
    if not flags.get("--metrics-bind-address", "").endswith(f":{values['metrics']['port']}"):
        fail(f"{label}: --metrics-bind-address does not use metrics.port")
    if flags.get("--pin-dir") != values["bpf"]["pinDir"]:
        fail(f"{label}: --pin-dir is {flags.get('--pin-dir')}, not bpf.pinDir")
    if flags.get("--service-cidr") != ",".join(values["serviceCIDR"]):
        fail(f"{label}: --service-cidr is {flags.get('--service-cidr')}, not serviceCIDR")
    if "--cluster-cidr" in flags:
        fail(f"{label}: --cluster-cidr is passed, though the agent takes no pod ranges")
    if (flags.get("--api-server") or None) != (",".join(values["apiServers"]) or None):
        fail(f"{label}: --api-server is {flags.get('--api-server')}, apiServers is {values['apiServers']}")
    if (flags.get("--devices") or None) != (",".join(values["nodePort"]["devices"]) or None):
        fail(f"{label}: --devices does not follow nodePort.devices")
    cgroup_path = values["cgroup"]["path"]
    if flags.get("--cgroup") != "/run/bpfproxy/cgroupv2" + (f"/{cgroup_path}" if cgroup_path else ""):
        fail(f"{label}: --cgroup is {flags.get('--cgroup')} for cgroup.path {cgroup_path!r}")
    volumes = {v["name"]: v for v in pod["volumes"]}
    if volumes["cgroup"]["hostPath"]["path"] != values["cgroup"]["hostRoot"]:
        fail(f"{label}: the cgroup volume is not cgroup.hostRoot")
    image = f"{values['image']['repository']}:{values['image']['tag']}"
    for container in containers(daemonset) + containers(daemonset, init=True):
        if container["image"] != image or container["imagePullPolicy"] != values["image"]["pullPolicy"]:
            fail(f"{label}: container {container['name']} runs {container['image']}, not {image}")
    if "cleanup" in json.dumps(daemonset):
        fail(f"{label}: the DaemonSet runs a cleanup: deleting it must leave the datapath pinned")

    # RBAC: read-only, and Pods only when bypassing Pods are configured.
    granted = {}
    for rule in role["rules"]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                granted.setdefault((group, resource), set()).update(rule["verbs"])
    wanted = {("", "services"): {"list", "watch"}, ("discovery.k8s.io", "endpointslices"): {"list", "watch"},
              ("", "nodes"): {"list", "watch"}}
    if values["bypassPods"]["podDevices"]:
        wanted[("", "pods")] = {"list", "watch"}
    if granted != wanted:
        fail(f"{label}: the ClusterRole grants {sorted((k, sorted(v)) for k, v in granted.items())}, "
             f"the agent uses {sorted((k, sorted(v)) for k, v in wanted.items())}")
    return daemonset


def defaults():
    values = yaml.safe_load((ROOT / "helm" / "bpfproxy" / "values.yaml").read_text())
    chart = yaml.safe_load((ROOT / "helm" / "bpfproxy" / "Chart.yaml").read_text())
    values["image"]["tag"] = values["image"]["tag"] or chart["appVersion"]
    return values


def check_default(text, objects):
    values = defaults()
    committed = (ROOT / "deploy" / "bpfproxy.yaml").read_text()
    if committed != text:
        fail("deploy/bpfproxy.yaml is not the default rendering: run scripts/render-chart.sh > deploy/bpfproxy.yaml")
    validate_schemas("defaults", objects)
    daemonset = check_common("defaults", objects, values)
    if not daemonset:
        return
    agent = [c for c in containers(daemonset) if c["name"] == "bpfproxy"][0]
    if set(agent["securityContext"]["capabilities"]["add"]) != {"BPF", "NET_ADMIN", "PERFMON"}:
        fail(f"defaults: capabilities {agent['securityContext']['capabilities']['add']}, "
             "expected exactly BPF, NET_ADMIN, PERFMON")
    if containers(daemonset, init=True):
        fail("defaults: the takeover init container must be off by default")
    values_text = (ROOT / "helm" / "bpfproxy" / "values.yaml").read_text()
    for cap in ("BPF", "NET_ADMIN", "PERFMON", "SYS_ADMIN", "SYS_RESOURCE"):
        if not re.search(rf"#.*\b{cap}\b", values_text):
            fail(f"values.yaml: no comment explaining {cap}")
    security = (ROOT / "docs" / "security.md")
    if not security.exists() or not all(f"CAP_{c}" in security.read_text() for c in ("BPF", "NET_ADMIN", "PERFMON")):
        fail("docs/security.md does not explain CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON")
    config = yaml.safe_load(by_kind(objects, "ConfigMap")["data"]["config.yaml"])
    if config != values["config"]:
        fail("the ConfigMap's config.yaml is not the config value")


def check_tutorial():
    """The networking tutorial's hand-built cluster (helm/bpfproxy/examples/tutorial.yaml: no
    kube-proxy, its CIDRs, a hybrid cgroup host), plus --set for bypassing Pods, takeover, a
    cgroup path, ports and a registry image, and Kubernetes 1.29 (AppArmor by annotation)."""
    example = ROOT / "helm" / "bpfproxy" / "examples" / "tutorial.yaml"
    overrides = yaml.safe_load(example.read_text())
    text, objects = render("-f", str(example), "--set", "nodePort.devices={eth0,eth1}",
                           "--set", "bypassPods.podDevices={veth*}", "--set", "takeover.enabled=true",
                           "--set", "cgroup.path=kubepods.slice", "--set", "bpf.pinDir=/sys/fs/bpf/bpx",
                           "--set", "metrics.port=10349,health.port=10356",
                           "--set", "image.repository=registry.example/bpfproxy", "--set", "image.tag=1.2.3",
                           "--kube-version", "v1.29.4")
    values = defaults()
    for key, value in overrides.items():
        if isinstance(value, dict):
            values[key].update(value)
        else:
            values[key] = value
    if values["serviceCIDR"] != ["10.32.0.0/24"] or values["clusterCIDR"] != ["10.200.0.0/16"]:
        fail("examples/tutorial.yaml: not the tutorial's CIDRs")
    values["nodePort"]["devices"] = ["eth0", "eth1"]
    values["bypassPods"]["podDevices"] = ["veth*"]
    values["cgroup"]["path"] = "kubepods.slice"
    values["bpf"]["pinDir"] = "/sys/fs/bpf/bpx"
    values["metrics"]["port"], values["health"]["port"] = 10349, 10356
    values["image"].update(repository="registry.example/bpfproxy", tag="1.2.3")
    validate_schemas("tutorial", objects)
    daemonset = check_common("tutorial", objects, values)
    if not daemonset:
        return
    flags = agent_args(daemonset)
    if flags.get("--pod-devices") != "veth*":
        fail("tutorial: --pod-devices does not follow bypassPods.podDevices")
    init = containers(daemonset, init=True)
    if [c["name"] for c in init] != ["takeover"] or init[0]["command"] != ["bpfproxy", "takeover"]:
        fail(f"tutorial: takeover.enabled does not add the `bpfproxy takeover` init container: {init}")
    annotations = daemonset["spec"]["template"]["metadata"]["annotations"]
    if annotations.get("container.apparmor.security.beta.kubernetes.io/bpfproxy") != "unconfined":
        fail("tutorial: before Kubernetes 1.30 AppArmor is set by annotation")


def check_refusals():
    for args, needle in ((["--set", "image.repository="], "image.repository"),
                         (["--set", "clusterCIDR={10.200.0.0/33x}"], "clusterCIDR"),
                         (["--set", "serviceCIDR=null"], "serviceCIDR")):
        try:
            render(*args)
            fail(f"render {' '.join(args)}: accepted, expected an error naming {needle}")
        except RuntimeError as error:
            if needle not in str(error):
                fail(f"render {' '.join(args)}: error does not name {needle}: {error}")


def main():
    try:
        text, objects = render()
        check_default(text, objects)
        check_tutorial()
        check_refusals()
    except Unavailable as why:
        for message in failures:
            print(f"FAIL {message}")
        print(f"skip: the chart cannot be rendered here: {why}")
        return 1 if failures else SKIP
    for message in failures:
        print(f"FAIL {message}")
    if failures:
        return 1
    if skipped:
        print("skip: " + "; ".join(sorted(set(skipped))))
        return SKIP
    print("ok: rendered with defaults and the tutorial's values; every object valid; privileges and RBAC minimal")
    return 0


if __name__ == "__main__":
    sys.exit(main())
