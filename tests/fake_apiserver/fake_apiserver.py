#!/usr/bin/env python3
"""A fake Kubernetes API server for bpfproxy's tests (stdlib only).

Written apart from the C++ client on purpose: it follows the real protocol (lists with
resourceVersion and pagination, chunked watch streams with bookmarks, 410 Gone, label and
field selectors, bearer-token and client-certificate auth) so the client is tested against
the protocol, not against its own assumptions. See README.md for the control API.
"""
import argparse
import base64
import copy
import datetime
import ipaddress
import json
import os
import signal
import socket
import ssl
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# resource name -> (group/version prefix, kind, namespaced)
RESOURCES = {
    "services": ("/api/v1", "Service", "v1", True),
    "endpointslices": ("/apis/discovery.k8s.io/v1", "EndpointSlice", "discovery.k8s.io/v1", True),
    "nodes": ("/api/v1", "Node", "v1", False),
    "pods": ("/api/v1", "Pod", "v1", True),
}
# Field labels beyond metadata.name/namespace, per resource (as kube-apiserver: spec.nodeName for Pods).
EXTRA_FIELD_LABELS = {"pods": ("spec.nodeName",)}
KIND_TO_RESOURCE = {kind: name for name, (_, kind, _, _) in RESOURCES.items()}


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_json(handler, code, body):
    data = json.dumps(body).encode()
    handler.send_response(code)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def status_object(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


class SelectorError(ValueError):
    pass


def parse_label_selector(text):
    """Returns a predicate over a labels dict. Supports key, !key, key=value, key==value,
    key!=value, comma-joined (AND): the forms kube-proxy style clients send."""
    requirements = []
    for part in [p.strip() for p in (text or "").split(",") if p.strip()]:
        if part.startswith("!"):
            key = part[1:].strip()
            requirements.append(lambda labels, k=key: k not in labels)
        elif "!=" in part:
            key, value = [s.strip() for s in part.split("!=", 1)]
            requirements.append(lambda labels, k=key, v=value: labels.get(k) != v)
        elif "=" in part:
            key, value = [s.strip() for s in part.replace("==", "=").split("=", 1)]
            requirements.append(lambda labels, k=key, v=value: labels.get(k) == v)
        elif " in " in part or " notin " in part or "(" in part:
            raise SelectorError("set-based selector not supported by the fake: " + part)
        else:
            requirements.append(lambda labels, k=part: k in labels)
    return lambda labels: all(r(labels) for r in requirements)


def field_value(obj, path):
    value = obj
    for step in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(step)
    return value


def parse_field_selector(text, resource=None):
    """metadata.name=x, metadata.namespace=y (and spec.nodeName=z for pods), and != forms."""
    requirements = []
    for part in [p.strip() for p in (text or "").split(",") if p.strip()]:
        negate = "!=" in part
        key, value = [s.strip() for s in part.replace("!=", "=").replace("==", "=").split("=", 1)]
        if key not in ("metadata.name", "metadata.namespace") + EXTRA_FIELD_LABELS.get(resource, ()):
            raise SelectorError('field label not supported: "%s"' % key)
        if negate:
            requirements.append(lambda o, k=key, v=value: field_value(o, k) != v)
        else:
            requirements.append(lambda o, k=key, v=value: field_value(o, k) == v)
    return lambda obj: all(r(obj) for r in requirements)


class Store:
    """Objects, a global resourceVersion counter and the event history watches replay."""

    def __init__(self):
        self.cond = threading.Condition()
        self.rv = 100
        self.objects = {name: {} for name in RESOURCES}
        # (rv, resource, type, object, previous object or None)
        self.history = []
        self.oldest_rv = self.rv  # a watch from an RV below this gets 410 Gone
        self.next_ip = int(ipaddress.ip_address("10.96.0.10"))

    def _key(self, obj):
        meta = obj.get("metadata", {})
        return (meta.get("namespace", ""), meta["name"])

    def _complete(self, resource, obj, previous):
        """Fills what a real API server sets: uid, timestamps, managedFields, defaults."""
        _, kind, api_version, namespaced = RESOURCES[resource]
        obj["kind"] = kind
        obj["apiVersion"] = api_version
        meta = obj.setdefault("metadata", {})
        if namespaced:
            meta.setdefault("namespace", "default")
        else:
            meta.pop("namespace", None)
        if previous is not None:
            meta["uid"] = previous["metadata"]["uid"]
            meta["creationTimestamp"] = previous["metadata"]["creationTimestamp"]
            meta["generation"] = previous["metadata"].get("generation", 1) + 1
        else:
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", now_rfc3339())
            meta.setdefault("generation", 1)
        meta["managedFields"] = [{
            "manager": "kubectl-client-side-apply", "operation": "Update",
            "apiVersion": api_version, "time": now_rfc3339(), "fieldsType": "FieldsV1",
            "fieldsV1": {"f:metadata": {"f:labels": {}}, "f:spec": {}},
        }]
        if resource == "services":
            spec = obj.setdefault("spec", {})
            spec.setdefault("type", "ClusterIP")
            if spec["type"] != "ExternalName":
                if "clusterIP" not in spec:
                    if previous is not None and "clusterIP" in previous.get("spec", {}):
                        spec["clusterIP"] = previous["spec"]["clusterIP"]
                    else:
                        spec["clusterIP"] = str(ipaddress.ip_address(self.next_ip))
                        self.next_ip += 1
                spec.setdefault("clusterIPs", [spec["clusterIP"]])
                spec.setdefault("ipFamilies", ["IPv4"])
                spec.setdefault("ipFamilyPolicy", "SingleStack")
                spec.setdefault("internalTrafficPolicy", "Cluster")
            spec.setdefault("sessionAffinity", "None")
            for port in spec.get("ports", []):
                port.setdefault("protocol", "TCP")
                port.setdefault("targetPort", port.get("port"))
            obj.setdefault("status", {"loadBalancer": {}})
        elif resource == "pods":
            obj.setdefault("spec", {})
            obj.setdefault("status", {"phase": "Running"})
        elif resource == "nodes":
            obj.setdefault("spec", {})
            obj.setdefault("status", {"conditions": [{"type": "Ready", "status": "True"}]})

    def _append(self, resource, event_type, obj, previous):
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self.history.append((self.rv, resource, event_type, copy.deepcopy(obj), previous))
        self.cond.notify_all()

    def upsert(self, obj):
        kind = obj.get("kind")
        if kind not in KIND_TO_RESOURCE:
            raise ValueError("unknown kind %r" % kind)
        resource = KIND_TO_RESOURCE[kind]
        with self.cond:
            obj = copy.deepcopy(obj)
            if not obj.get("metadata", {}).get("name"):
                raise ValueError("metadata.name missing")
            if RESOURCES[resource][3]:
                obj["metadata"].setdefault("namespace", "default")
            key = self._key(obj)
            previous = self.objects[resource].get(key)
            self._complete(resource, obj, previous)
            self._append(resource, "MODIFIED" if previous else "ADDED", obj,
                         copy.deepcopy(previous) if previous else None)
            self.objects[resource][key] = obj
            return copy.deepcopy(obj)

    def delete(self, resource, namespace, name):
        with self.cond:
            key = (namespace or "", name)
            obj = self.objects[resource].pop(key, None)
            if obj is None:
                return None
            previous = copy.deepcopy(obj)
            obj = copy.deepcopy(obj)
            obj["metadata"]["deletionTimestamp"] = now_rfc3339()
            self._append(resource, "DELETED", obj, previous)
            return obj

    def compact(self):
        """Forgets all history: every watch from an older resourceVersion gets 410 Gone."""
        with self.cond:
            self.history = []
            self.oldest_rv = self.rv
            self.cond.notify_all()

    def list(self, resource, namespace, label_pred, field_pred):
        with self.cond:
            items = [copy.deepcopy(o) for k, o in sorted(self.objects[resource].items())
                     if (not namespace or k[0] == namespace)
                     and label_pred(o["metadata"].get("labels", {})) and field_pred(o)]
            return items, self.rv


class Server:
    """Owns the store, the listening sockets and the knobs the control API turns."""

    def __init__(self, args):
        self.args = args
        self.store = Store()
        self.tokens = set(args.token or [])
        self.bookmark_interval = args.bookmark_interval
        self.gone_mode = "event"  # "event": 200 + ERROR event; "status": HTTP 410
        self.hang = False
        self.forbid = set()  # "list pods", "watch services": answered 403, as RBAC would
        self.lock = threading.Lock()
        self.watches = set()  # open watch handlers
        self.connections = set()  # every open API connection, to drop them on /down
        self.requests = {}  # "GET /api/v1/services" -> count
        self.watch_count = 0  # watches ever opened
        self.mid_event_cuts = 0  # watches cut after half an event (POST /cut {"midEvent": true})
        # When the last watch event was written (CLOCK_MONOTONIC and wall seconds): where the
        # benchmark starts its clock for the agent's programming latency.
        self.last_event_monotonic = None
        self.last_event_wall = None
        self.api_server = None
        self.api_port = args.port
        self.control_server = None
        self.ssl_context = None
        self.client_ca = args.client_ca
        if args.tls_cert:
            self.ssl_context = self.make_ssl_context()

    def make_ssl_context(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.args.tls_cert, self.args.tls_key)
        if self.client_ca:
            ctx.load_verify_locations(self.client_ca)
            ctx.verify_mode = ssl.CERT_OPTIONAL
        return ctx

    def count(self, key):
        with self.lock:
            self.requests[key] = self.requests.get(key, 0) + 1

    def start_api(self):
        handler = type("ApiHandler", (ApiHandler,), {"server_state": self})
        server = ThreadingHTTPServer(("127.0.0.1", self.api_port), handler)
        server.daemon_threads = True
        if self.ssl_context is not None:
            server.socket = self.ssl_context.wrap_socket(server.socket, server_side=True,
                                                         do_handshake_on_connect=False)
        self.api_port = server.server_address[1]
        self.api_server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop_api(self):
        if self.api_server is not None:
            self.api_server.shutdown()
            self.api_server.server_close()
            self.api_server = None
        with self.lock:
            connections = list(self.connections)
        for c in connections:
            c.cut()  # also idle keep-alive connections: the server is gone

    def cut_watches(self, mid_event=False):
        with self.lock:
            watches = list(self.watches)
        for w in watches:
            if mid_event:
                w.cut_mid_event = True  # the watch writes half of its next event, then drops
            else:
                w.cut()
        return len(watches)


class ApiHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_state = None  # set by Server.start_api

    def log_message(self, fmt, *args):
        if self.server_state.args.verbose:
            sys.stderr.write("fake-apiserver: " + (fmt % args) + "\n")

    def setup(self):
        super().setup()
        self._cut = False
        self._broken = False
        self.cut_mid_event = False
        try:
            if isinstance(self.connection, ssl.SSLSocket):
                self.connection.settimeout(10)
                self.connection.do_handshake()
                self.connection.settimeout(None)
        except (ConnectionError, ssl.SSLError, OSError) as e:
            self._broken = True  # e.g. the client rejected our certificate
            self.log_message("TLS handshake failed: %s", e)
        with self.server_state.lock:
            self.server_state.connections.add(self)

    def finish(self):
        with self.server_state.lock:
            self.server_state.connections.discard(self)
        try:
            super().finish()
        except (ConnectionError, ssl.SSLError, OSError):
            pass

    def handle(self):
        if self._broken:
            return
        try:
            super().handle()
        except (ConnectionError, ssl.SSLError, OSError, ValueError):
            pass

    def cut(self):
        """Drops the connection mid-stream, without the terminating chunk."""
        self._cut = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def send_json(self, code, body):
        write_json(self, code, body)

    def authenticated(self):
        state = self.server_state
        if isinstance(self.connection, ssl.SSLSocket) and self.connection.getpeercert():
            return True
        if not state.tokens and state.args.client_ca is None:
            return True
        auth = self.headers.get("Authorization", "")
        return auth.startswith("Bearer ") and auth[len("Bearer "):] in state.tokens

    def do_GET(self):
        state = self.server_state
        url = urllib.parse.urlsplit(self.path)
        state.count("GET " + url.path)
        while state.hang:
            time.sleep(0.05)
        if not self.authenticated():
            return self.send_json(401, status_object(401, "Unauthorized", "Unauthorized"))
        accept = self.headers.get("Accept", "")
        if "protobuf" in accept:
            return self.send_json(406, status_object(406, "NotAcceptable", "JSON only"))
        route = self.route(url.path)
        if route is None:
            return self.send_json(404, status_object(404, "NotFound", "the server could not find the requested resource"))
        resource, namespace, name = route
        query = urllib.parse.parse_qs(url.query)
        q = lambda k, d="": query.get(k, [d])[0]
        verb = "get" if name is not None else "watch" if q("watch") in ("1", "true") else "list"
        if f"{verb} {resource}" in state.forbid:
            group = RESOURCES[resource][2].rpartition("/")[0]
            return self.send_json(403, status_object(403, "Forbidden", f'{resource} is forbidden: User "test" cannot '
                                                     f'{verb} resource "{resource}" in API group "{group}" at the cluster scope'))
        try:
            label_pred = parse_label_selector(q("labelSelector"))
            field_pred = parse_field_selector(q("fieldSelector"), resource)
        except SelectorError as e:
            return self.send_json(400, status_object(400, "BadRequest", str(e)))
        if name is not None:
            obj = state.store.objects[resource].get((namespace or "", name))
            if obj is None:
                return self.send_json(404, status_object(404, "NotFound", '%s "%s" not found' % (resource, name)))
            return self.send_json(200, obj)
        if q("watch") in ("1", "true"):
            return self.watch(resource, namespace, label_pred, field_pred, query)
        return self.list(resource, namespace, label_pred, field_pred, query)

    def do_POST(self):
        """SelfSubjectAccessReview: allowed unless the verb and resource are in `forbid`."""
        state = self.server_state
        url = urllib.parse.urlsplit(self.path)
        state.count("POST " + url.path)
        if not self.authenticated():
            return self.send_json(401, status_object(401, "Unauthorized", "Unauthorized"))
        if url.path != "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews":
            return self.send_json(404, status_object(404, "NotFound", "the server could not find the requested resource"))
        try:
            review = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            attributes = review["spec"]["resourceAttributes"]
        except (ValueError, KeyError, TypeError):
            return self.send_json(400, status_object(400, "BadRequest", "not a SelfSubjectAccessReview"))
        allowed = f"{attributes.get('verb')} {attributes.get('resource')}" not in state.forbid
        review["status"] = {"allowed": allowed}
        if not allowed:
            review["status"]["reason"] = "forbidden by the fake API server's configuration"
        self.send_json(201, review)

    def route(self, path):
        """/api/v1/services, /api/v1/namespaces/NS/services[/NAME], /api/v1/nodes[/NAME], ..."""
        for resource, (prefix, _, _, namespaced) in RESOURCES.items():
            if not path.startswith(prefix + "/"):
                continue
            rest = path[len(prefix) + 1:].strip("/").split("/")
            namespace = None
            if namespaced and len(rest) >= 3 and rest[0] == "namespaces":
                namespace, rest = rest[1], rest[2:]
            if rest[0] != resource or len(rest) > 2:
                continue
            return resource, namespace, (rest[1] if len(rest) == 2 else None)
        return None

    def list(self, resource, namespace, label_pred, field_pred, query):
        state = self.server_state
        _, kind, api_version, _ = RESOURCES[resource]
        items, rv = state.store.list(resource, namespace, label_pred, field_pred)
        cont = query.get("continue", [""])[0]
        start = 0
        if cont:
            try:
                token = json.loads(base64.b64decode(cont))
                list_rv, start = token["rv"], token["start"]
            except (ValueError, KeyError):
                return self.send_json(400, status_object(400, "BadRequest", "invalid continue token"))
            if list_rv < state.store.oldest_rv:
                return self.send_json(410, status_object(
                    410, "Expired", "The provided continue parameter is too old to display a consistent list result."))
            # Pages of one list are served from the snapshot's resourceVersion, like etcd does.
            rv = list_rv
        limit = int(query.get("limit", ["0"])[0] or 0)
        metadata = {"resourceVersion": str(rv)}
        page = items[start:]
        if limit > 0 and len(page) > limit:
            page = page[:limit]
            metadata["continue"] = base64.b64encode(
                json.dumps({"rv": rv, "start": start + limit}).encode()).decode()
            metadata["remainingItemCount"] = len(items) - start - limit
        for item in page:
            item.pop("kind", None)
            item.pop("apiVersion", None)
        self.send_json(200, {"kind": kind + "List", "apiVersion": api_version,
                             "metadata": metadata, "items": page})

    def write_chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def watch(self, resource, namespace, label_pred, field_pred, query):
        state = self.server_state
        store = state.store
        _, kind, api_version, _ = RESOURCES[resource]
        q = lambda k, d="": query.get(k, [d])[0]
        bookmarks = q("allowWatchBookmarks") in ("1", "true")
        timeout = float(q("timeoutSeconds", "1800") or 1800)
        rv_text = q("resourceVersion")
        matches = lambda o: (o is not None and (not namespace or o["metadata"].get("namespace") == namespace)
                             and label_pred(o["metadata"].get("labels", {})) and field_pred(o))
        with store.cond:
            initial = []
            if rv_text in ("", "0"):
                # Like the real server: synthetic ADDED events for the current state first.
                items, rv = store.list(resource, namespace, label_pred, field_pred)
                initial = [("ADDED", o) for o in items]
                since = rv
            else:
                since = int(rv_text)
                if since < store.oldest_rv:
                    message = "too old resource version: %d (%d)" % (since, store.oldest_rv)
                    gone = status_object(410, "Expired", message)
                    if state.gone_mode == "status":
                        return self.send_json(410, gone)
                    initial = [("ERROR", gone)]
                    since = None
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        with state.lock:
            state.watches.add(self)
            state.watch_count += 1
        try:
            for event_type, obj in initial:
                self.write_chunk(json.dumps({"type": event_type, "object": obj}).encode() + b"\n")
            if since is None:
                self.write_chunk(b"")
                return
            deadline = time.monotonic() + timeout
            next_bookmark = time.monotonic() + state.bookmark_interval
            while not self._cut:
                out = []
                with store.cond:
                    pending = [e for e in store.history if e[0] > since and e[1] == resource]
                    if not pending:
                        wait = min(deadline, next_bookmark) - time.monotonic()
                        if wait > 0:
                            store.cond.wait(min(wait, 0.2))
                        pending = [e for e in store.history if e[0] > since and e[1] == resource]
                    for rv, _, event_type, obj, previous in pending:
                        since = rv
                        was, now = matches(previous), matches(obj)
                        if event_type == "DELETED":
                            if was:
                                out.append(("DELETED", obj))
                        elif now and not was:
                            out.append(("ADDED", obj))
                        elif now and was:
                            out.append(("MODIFIED", obj))
                        elif was and not now:
                            out.append(("DELETED", obj))  # left the selector
                    current_rv = store.rv
                if self._cut:
                    break
                for event_type, obj in out:
                    line = json.dumps({"type": event_type, "object": obj}).encode() + b"\n"
                    if self.cut_mid_event:
                        self.write_chunk(line[:len(line) // 2])
                        with state.lock:
                            state.mid_event_cuts += 1
                        self.cut()
                        break
                    self.write_chunk(line)
                if out and not self._cut:
                    state.last_event_monotonic, state.last_event_wall = time.monotonic(), time.time()
                now_time = time.monotonic()
                if bookmarks and now_time >= next_bookmark:
                    mark = {"kind": kind, "apiVersion": api_version,
                            "metadata": {"resourceVersion": str(current_rv),
                                         "annotations": {"k8s.io/initial-events-end": "false"}}}
                    since = max(since, current_rv)
                    self.write_chunk(json.dumps({"type": "BOOKMARK", "object": mark}).encode() + b"\n")
                if now_time >= next_bookmark:
                    next_bookmark = now_time + state.bookmark_interval
                if now_time >= deadline:
                    self.write_chunk(b"")  # timeoutSeconds: a clean end of the stream
                    break
        except (ConnectionError, ssl.SSLError, OSError):
            pass
        finally:
            with state.lock:
                state.watches.discard(self)
            self.close_connection = True


class ControlHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_state = None

    def log_message(self, fmt, *args):
        if self.server_state.args.verbose:
            sys.stderr.write("fake-apiserver control: " + (fmt % args) + "\n")

    def reply(self, code, body):
        write_json(self, code, body)

    def body(self):
        length = int(self.headers.get("Content-Length", "0") or 0)
        return json.loads(self.rfile.read(length) or b"null") if length else None

    def do_GET(self):
        state = self.server_state
        if self.path == "/healthz":
            return self.reply(200, {"ok": True})
        if self.path == "/state":
            with state.lock:
                return self.reply(200, {
                    "resourceVersion": state.store.rv, "oldestResourceVersion": state.store.oldest_rv,
                    "openWatches": len(state.watches), "watchesOpened": state.watch_count,
                    "midEventCuts": state.mid_event_cuts,
                    "lastEventMonotonic": state.last_event_monotonic, "lastEventWall": state.last_event_wall,
                    "requests": dict(state.requests), "apiPort": state.api_port,
                    "up": state.api_server is not None})
        return self.reply(404, {"error": "unknown path"})

    def do_PUT(self):
        return self.do_POST()

    def do_POST(self):
        state = self.server_state
        try:
            body = self.body()
        except ValueError as e:
            return self.reply(400, {"error": "bad JSON: %s" % e})
        path = self.path
        try:
            if path == "/objects":
                objs = body if isinstance(body, list) else (body.get("items") if body.get("kind", "").endswith("List") else [body])
                return self.reply(200, [state.store.upsert(o) for o in objs])
            if path == "/compact":
                state.store.compact()
                return self.reply(200, {"oldestResourceVersion": state.store.oldest_rv})
            if path == "/cut":
                mid_event = bool(body and body.get("midEvent"))
                return self.reply(200, {"cut" if not mid_event else "armed": state.cut_watches(mid_event)})
            if path == "/down":
                state.stop_api()
                return self.reply(200, {"up": False})
            if path == "/up":
                if state.api_server is None:
                    state.start_api()
                return self.reply(200, {"up": True, "apiPort": state.api_port})
            if path == "/hang":
                state.hang = True
                return self.reply(200, {"hang": True})
            if path == "/unhang":
                state.hang = False
                return self.reply(200, {"hang": False})
            if path == "/config":
                if "tokens" in body:
                    state.tokens = set(body["tokens"])
                if "bookmarkInterval" in body:
                    state.bookmark_interval = float(body["bookmarkInterval"])
                if "goneMode" in body:
                    state.gone_mode = body["goneMode"]
                if "forbid" in body:
                    state.forbid = set(body["forbid"])
                if "clientCa" in body and state.ssl_context is not None:
                    # New connections verify client certificates against this CA.
                    state.client_ca = body["clientCa"]
                    state.ssl_context = state.make_ssl_context()
                    if state.api_server is not None:
                        state.stop_api()
                        state.start_api()
                return self.reply(200, {"ok": True})
        except (ValueError, KeyError, AttributeError) as e:
            return self.reply(400, {"error": str(e)})
        return self.reply(404, {"error": "unknown path"})

    def do_DELETE(self):
        # /objects/RESOURCE/NAMESPACE/NAME, or /objects/nodes/NAME
        parts = self.path.strip("/").split("/")
        if len(parts) < 3 or parts[0] != "objects" or parts[1] not in RESOURCES:
            return self.reply(404, {"error": "use /objects/RESOURCE/[NAMESPACE/]NAME"})
        resource = parts[1]
        namespace, name = (parts[2], parts[3]) if RESOURCES[resource][3] and len(parts) == 4 else ("", parts[2])
        obj = self.server_state.store.delete(resource, namespace, name)
        if obj is None:
            return self.reply(404, {"error": "not found"})
        return self.reply(200, obj)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="API port on 127.0.0.1 (0: any free)")
    parser.add_argument("--control-port", type=int, default=0, help="control port on 127.0.0.1")
    parser.add_argument("--ready-file", help="written (JSON with the ports) once both ports listen")
    parser.add_argument("--tls-cert", help="serve HTTPS with this certificate")
    parser.add_argument("--tls-key")
    parser.add_argument("--client-ca", help="accept client certificates signed by this CA")
    parser.add_argument("--token", action="append", help="accepted bearer token (repeatable)")
    parser.add_argument("--bookmark-interval", type=float, default=1.0, help="seconds between BOOKMARKs")
    parser.add_argument("--load", help="JSON file of objects (a list or a List) to start with")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()

    state = Server(args)
    if args.load:
        with open(args.load) as f:
            data = json.load(f)
        for obj in data if isinstance(data, list) else data.get("items", []):
            state.store.upsert(obj)
    state.start_api()
    control = type("Control", (ControlHandler,), {"server_state": state})
    control_server = ThreadingHTTPServer(("127.0.0.1", args.control_port), control)
    control_server.daemon_threads = True
    ready = {"apiPort": state.api_port, "controlPort": control_server.server_address[1], "pid": os.getpid()}
    if args.ready_file:
        tmp = args.ready_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(ready, f)
        os.rename(tmp, args.ready_file)  # atomic: readers never see half a file
    print("READY " + json.dumps(ready), flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        control_server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass


if __name__ == "__main__":
    main()
