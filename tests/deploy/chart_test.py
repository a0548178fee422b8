#!/usr/bin/env python3
"""Checks of helm/bpfproxy that need no helm (Debian does not package it, so `helm lint`
and `helm template` cannot run here): values.yaml parses, every .Values path a template
reads exists, template actions and blocks balance, the RBAC grants what kube-proxy's
system:node-proxier does, the probes use the health port, and every agent flag and config
key the chart passes is one the agent defines.

Usage: chart_test.py [REPO_ROOT]. Exit 0 when every check passes; each failure is printed.
"""
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from agent_cli import agent_flags  # noqa: E402

ROOT = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "bpfproxy"
failures = []


def fail(message):
    failures.append(message)


# --- A YAML subset parser: block mappings and sequences, plain or quoted scalars, empty
# flow collections and comments. Anything else in values.yaml is an error, so the file
# stays simple enough to be read the same way by helm and by this test.

class YamlError(Exception):
    pass


def scalar(text, where):
    text = text.strip()
    if text in ("[]",):
        return []
    if text in ("{}",):
        return {}
    if text.startswith('"'):
        if not text.endswith('"') or len(text) < 2:
            raise YamlError(f"{where}: unterminated string {text}")
        return text[1:-1]
    if text.startswith("'"):
        if not text.endswith("'") or len(text) < 2:
            raise YamlError(f"{where}: unterminated string {text}")
        return text[1:-1]
    if text[:1] in "[{&*!|>%@`":
        raise YamlError(f"{where}: unsupported YAML here: {text}")
    if text in ("true", "false"):
        return text == "true"
    if text in ("null", "~", ""):
        return None
    if re.fullmatch(r"-?[0-9]+", text):
        return int(text)
    return text


def strip_comment(line):
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip()
    return line.rstrip()


def parse_yaml(text, name):
    lines = []
    for number, raw in enumerate(text.splitlines(), 1):
        if "\t" in raw[: len(raw) - len(raw.lstrip())]:
            raise YamlError(f"{name}:{number}: tab in indentation")
        line = strip_comment(raw)
        if line.strip():
            lines.append((number, len(line) - len(line.lstrip(" ")), line.strip()))
    value, end = parse_block(lines, 0, 0, name)
    if end != len(lines):
        number = lines[end][0]
        raise YamlError(f"{name}:{number}: unexpected indentation")
    return value


def parse_block(lines, start, indent, name):
    if start >= len(lines):
        return None, start
    number, col, text = lines[start]
    if col != indent:
        raise YamlError(f"{name}:{number}: expected indentation {indent}, found {col}")
    if text.startswith("- ") or text == "-":
        return parse_sequence(lines, start, indent, name)
    return parse_mapping(lines, start, indent, name)


def parse_mapping(lines, i, indent, name):
    result = {}
    while i < len(lines):
        number, col, text = lines[i]
        if col < indent:
            break
        if col > indent:
            raise YamlError(f"{name}:{number}: unexpected indentation")
        match = re.fullmatch(r'([A-Za-z0-9_.\-/]+|"[^"]*"):(?:\s+(.*))?', text)
        if not match:
            raise YamlError(f"{name}:{number}: not a 'key: value' line: {text}")
        key = match.group(1).strip('"')
        if key in result:
            raise YamlError(f"{name}:{number}: duplicate key {key}")
        rest = match.group(2)
        i += 1
        if rest is None or rest == "":
            if i < len(lines) and (lines[i][1] > indent or
                                   (lines[i][1] == indent and lines[i][2].startswith("- "))):
                result[key], i = parse_block(lines, i, lines[i][1], name)
            else:
                result[key] = None
        else:
            result[key] = scalar(rest, f"{name}:{number}")
    return result, i


def parse_sequence(lines, i, indent, name):
    result = []
    while i < len(lines):
        number, col, text = lines[i]
        if col != indent or not (text.startswith("- ") or text == "-"):
            break
        item = text[1:].strip()
        if re.match(r'[A-Za-z0-9_.\-/]+:(\s|$)', item):
            # "- key: value" starts a mapping indented by two more columns.
            lines[i] = (number, indent + 2, item)
            value, i = parse_mapping(lines, i, indent + 2, name)
            result.append(value)
        else:
            result.append(scalar(item, f"{name}:{number}"))
            i += 1
    return result, i


# --- Template structure.

ACTION = re.compile(r"\{\{-?(.*?)-?\}\}", re.S)
OPENERS = ("if", "with", "range", "define", "block")


def check_template_syntax(path, text):
    if text.count("{{") != text.count("}}"):
        fail(f"{path.name}: {text.count('{{')} '{{{{' but {text.count('}}')} '}}}}'")
    stack = []
    for match in ACTION.finditer(text):
        body = match.group(1).strip()
        if body.startswith("/*"):
            if not body.endswith("*/"):
                fail(f"{path.name}: unterminated comment {body[:30]}")
            continue
        if body.count("(") != body.count(")"):
            fail(f"{path.name}: unbalanced parentheses in {{{{ {body} }}}}")
        if body.count('"') % 2:
            fail(f"{path.name}: unbalanced quotes in {{{{ {body} }}}}")
        word = body.split()[0] if body.split() else ""
        line = text.count("\n", 0, match.start()) + 1
        if word in OPENERS:
            stack.append((word, line))
        elif word in ("else",):
            if not stack or stack[-1][0] not in ("if", "with", "range"):
                fail(f"{path.name}:{line}: 'else' outside if/with/range")
        elif word == "end":
            if not stack:
                fail(f"{path.name}:{line}: 'end' without an opening block")
            else:
                stack.pop()
    for word, line in stack:
        fail(f"{path.name}:{line}: '{word}' never ended")


def lookup(values, dotted):
    node = values
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def main():
    values_path = CHART / "values.yaml"
    try:
        values = parse_yaml(values_path.read_text(), "values.yaml")
    except YamlError as error:
        print(f"FAIL values.yaml does not parse: {error}")
        return 1
    chart = parse_yaml((CHART / "Chart.yaml").read_text(), "Chart.yaml")
    for key in ("apiVersion", "name", "version", "appVersion"):
        if not chart.get(key):
            fail(f"Chart.yaml: no {key}")
    if chart.get("apiVersion") != "v2":
        fail("Chart.yaml: apiVersion must be v2 (Helm 3)")

    templates = {p.name: p.read_text() for p in sorted((CHART / "templates").iterdir()) if p.is_file()}
    for required in ("_helpers.tpl", "serviceaccount.yaml", "clusterrole.yaml", "clusterrolebinding.yaml",
                     "configmap.yaml", "daemonset.yaml", "NOTES.txt"):
        if required not in templates:
            fail(f"templates/{required} is missing")

    # Every .Values path a template reads exists in values.yaml (a typo renders as empty).
    defined = set()
    for name, text in templates.items():
        check_template_syntax(CHART / "templates" / name, text)
        defined |= set(re.findall(r'define\s+"([^"]+)"', text))
        for path in re.findall(r"\.Values\.([A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*)", text):
            if not lookup(values, path):
                fail(f"{name}: .Values.{path} is not in values.yaml")
    for name, text in templates.items():
        for used in re.findall(r'include\s+"([^"]+)"', text):
            if used not in defined:
                fail(f"{name}: include \"{used}\" is not defined in any template")

    check_rbac(templates.get("clusterrole.yaml", ""))
    check_daemonset(templates.get("daemonset.yaml", ""), values)
    check_config(values.get("config") or {})

    if values.get("tolerations") != [{"operator": "Exists"}]:
        fail("values.yaml: tolerations must tolerate every taint ([{operator: Exists}]), as kube-proxy does")
    if values.get("priorityClassName") != "system-node-critical":
        fail("values.yaml: priorityClassName must be system-node-critical")
    strategy = values.get("updateStrategy") or {}
    if strategy.get("type") != "RollingUpdate" or (strategy.get("rollingUpdate") or {}).get("maxUnavailable") != 1:
        fail("values.yaml: updateStrategy must be RollingUpdate with maxUnavailable 1")
    if (values.get("health") or {}).get("bindAddress") in ("127.0.0.1", "localhost", "[::1]"):
        fail("values.yaml: health.bindAddress on loopback: the kubelet's probes come from the node address")

    for message in failures:
        print(f"FAIL {message}")
    if not failures:
        print(f"ok: {len(templates)} templates, values.yaml and Chart.yaml checked")
    return 1 if failures else 0


def check_rbac(text):
    # kube-proxy's system:node-proxier: list/watch services, endpointslices; get/list/watch
    # nodes; create/patch events. And list/watch pods: bypassing Pods come from the API.
    needed = [("", "pods", {"list", "watch"}),
              ("", "services", {"list", "watch"}),
              ("discovery.k8s.io", "endpointslices", {"list", "watch"}),
              ("", "nodes", {"get", "list", "watch"}),
              ("", "events", {"create", "patch"})]
    rules = []
    for block in re.split(r"\n\s*-\s+apiGroups:", text)[1:]:
        groups = re.match(r"\s*\[([^\]]*)\]", block)
        resources = re.search(r"resources:\s*\[([^\]]*)\]", block)
        verbs = re.search(r"verbs:\s*\[([^\]]*)\]", block)
        if not (groups and resources and verbs):
            fail("clusterrole.yaml: a rule not written as apiGroups/resources/verbs flow lists")
            continue
        items = lambda m: {s.strip().strip('"') for s in m.group(1).split(",") if s.strip()}
        rules.append((items(groups), items(resources), items(verbs)))
    for group, resource, verbs in needed:
        if not any(group in g and resource in r and verbs <= v for g, r, v in rules):
            fail(f"clusterrole.yaml: no rule grants {sorted(verbs)} on {group or 'core'}/{resource}")
    for g, r, v in rules:
        if v & {"delete", "deletecollection", "*"} or "*" in r or "secrets" in r:
            fail(f"clusterrole.yaml: grants more than a service proxy needs: {sorted(r)} {sorted(v)}")


def check_daemonset(text, values):
    registered, named = agent_flags(ROOT)
    args = re.search(r"\n(\s*)args:\n(.*?)\n\1env:", text, re.S)
    if not args:
        fail("daemonset.yaml: no args: list before env:")
        return
    depth = 0
    for line in args.group(2).splitlines():
        stripped = line.strip()
        depth += len(re.findall(r"\{\{-?\s*(?:if|with|range)\b", stripped))
        depth -= len(re.findall(r"\{\{-?\s*end\b", stripped))
        flag = re.match(r"-\s+(--[a-z0-9-]+)", stripped)
        if not flag:
            continue
        flag = flag.group(1)
        if flag in registered:
            continue
        if depth > 0 and flag in named:
            # Passed only when its value is set, off by default: the agent's config table
            # already names it, the flag itself is being added.
            print(f"note: daemonset.yaml: {flag} is named by the agent's config table but not yet registered")
            continue
        fail(f"daemonset.yaml: the agent has no flag {flag}")

    health = re.search(r"-\s+name:\s*healthz\s*\n\s*containerPort:\s*\{\{\s*\.Values\.health\.port\s*\}\}", text)
    if not health:
        fail("daemonset.yaml: no container port named healthz on .Values.health.port")
    if not re.search(r"--healthz-bind-address=\{\{[^}]*\}\}:\{\{\s*\.Values\.health\.port\s*\}\}", text):
        fail("daemonset.yaml: --healthz-bind-address does not use .Values.health.port")
    for probe, path in (("livenessProbe", "/livez"), ("readinessProbe", "/healthz")):
        match = re.search(probe + r":\s*\n\s*httpGet:\s*\n\s*path:\s*(\S+)\s*\n\s*port:\s*(\S+)", text)
        if not match:
            fail(f"daemonset.yaml: no {probe} with httpGet path and port")
            continue
        if match.group(1) != path:
            fail(f"daemonset.yaml: {probe} path is {match.group(1)}, not {path}")
        if match.group(2) not in ("healthz", "{{ .Values.health.port }}"):
            fail(f"daemonset.yaml: {probe} port is {match.group(2)}, not the health port")

    for needle, why in (("hostNetwork: true", "the agent serves the host's sockets and ports"),
                        ("mountPropagation: Bidirectional", "a bpffs the privileged agent mounts must reach the host"),
                        ("--config=/etc/bpfproxy/config.yaml", "the config block is passed with --config"),
                        ("mountPath: /etc/bpfproxy", "the ConfigMap is mounted where --config reads it"),
                        ("fieldPath: spec.nodeName", "--node-name comes from the pod's node")):
        if needle not in text:
            fail(f"daemonset.yaml: no '{needle}': {why}")
    if "preStop" in text or re.search(r"bpfproxy\s+cleanup|\bcleanup\b", text):
        fail("daemonset.yaml: runs a cleanup: deleting the DaemonSet must leave the datapath pinned")


def check_config(config):
    """Each leaf of values.config is a key of the agent's config table whose flag exists."""
    table = (ROOT / "cli" / "agent_config.cpp").read_text()
    keys = dict(re.findall(r'\{"([A-Za-z.]+)",\s*"(--[a-z0-9-]*|)"', table))
    registered, _ = agent_flags(ROOT)

    def leaves(node, prefix):
        for key, value in node.items():
            path = f"{prefix}.{key}" if prefix else key
            if isinstance(value, dict) and value:
                yield from leaves(value, path)
            else:
                yield path

    for path in leaves(config, ""):
        if path not in keys:
            fail(f"values.yaml: config.{path} is not a key the agent's --config accepts")
        elif keys[path] and keys[path] not in registered:
            fail(f"values.yaml: config.{path} sets {keys[path]}, which the agent does not register yet")


if __name__ == "__main__":
    sys.exit(main())
