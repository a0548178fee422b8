"""Self-test of the fake API server with the stdlib HTTP client: it must speak the protocol
before it can judge bpfproxy's client."""
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


class FakeApiServerTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        ready = os.path.join(self.dir.name, "ready.json")
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "fake_apiserver.py"),
                                      "--ready-file", ready, "--bookmark-interval", "0.2"],
                                     stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not os.path.exists(ready):
            self.assertLess(time.monotonic(), deadline, "not ready")
            time.sleep(0.02)
        with open(ready) as f:
            ports = json.load(f)
        self.api, self.control = ports["apiPort"], ports["controlPort"]

    def tearDown(self):
        self.proc.terminate()
        self.proc.wait(5)
        self.dir.cleanup()

    def call(self, port, method, path, body=None):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request(method, path, json.dumps(body) if body is not None else None)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"null")

    def service(self, name, labels=None):
        return {"kind": "Service", "apiVersion": "v1",
                "metadata": {"name": name, "namespace": "default", "labels": labels or {}},
                "spec": {"ports": [{"port": 80}]}}

    def test_list_pages_selectors_and_real_looking_objects(self):
        for i in range(3):
            self.call(self.control, "POST", "/objects", self.service("s%d" % i))
        self.call(self.control, "POST", "/objects", self.service("x", {"service.kubernetes.io/service-proxy-name": "o"}))
        status, page = self.call(self.api, "GET", "/api/v1/services?limit=2")
        self.assertEqual(status, 200)
        self.assertEqual(page["kind"], "ServiceList")
        self.assertEqual(len(page["items"]), 2)
        item = page["items"][0]
        for key in ("uid", "creationTimestamp", "managedFields", "resourceVersion"):
            self.assertIn(key, item["metadata"])
        self.assertEqual(item["spec"]["clusterIPs"], [item["spec"]["clusterIP"]])
        _, rest = self.call(self.api, "GET", "/api/v1/services?limit=2&continue=" + page["metadata"]["continue"])
        self.assertEqual(len(rest["items"]), 2)
        self.assertNotIn("continue", rest["metadata"])
        _, ours = self.call(self.api, "GET", "/api/v1/namespaces/default/services?labelSelector="
                            "%21service.kubernetes.io%2Fservice-proxy-name")
        self.assertEqual(len(ours["items"]), 3)
        status, _ = self.call(self.api, "GET", "/api/v1/nodes?fieldSelector=spec.x%3Dy")
        self.assertEqual(status, 400)

    def test_pods_select_by_node_name(self):
        for name, node in (("a", "n1"), ("b", "n2")):
            self.call(self.control, "POST", "/objects", {"kind": "Pod", "apiVersion": "v1",
                      "metadata": {"name": name, "namespace": "default"}, "spec": {"nodeName": node}})
        status, listed = self.call(self.api, "GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dn1")
        self.assertEqual(status, 200)
        self.assertEqual([item["metadata"]["name"] for item in listed["items"]], ["a"])
        status, _ = self.call(self.api, "GET", "/api/v1/services?fieldSelector=spec.nodeName%3Dn1")
        self.assertEqual(status, 400)  # a Pod-only field label, as kube-apiserver
        status, _ = self.call(self.control, "DELETE", "/objects/pods/default/a")
        self.assertEqual(status, 200)

    def test_watch_streams_events_bookmarks_and_410(self):
        _, listed = self.call(self.api, "GET", "/api/v1/services")
        rv = listed["metadata"]["resourceVersion"]
        conn = http.client.HTTPConnection("127.0.0.1", self.api, timeout=10)
        conn.request("GET", "/api/v1/services?watch=1&allowWatchBookmarks=true&timeoutSeconds=3&resourceVersion=" + rv)
        response = conn.getresponse()
        self.assertEqual(response.getheader("Transfer-Encoding"), "chunked")
        self.call(self.control, "POST", "/objects", self.service("a"))
        event = json.loads(response.readline())
        while event["type"] == "BOOKMARK":
            event = json.loads(response.readline())
        self.assertEqual(event["type"], "ADDED")  # before the response ended
        event = json.loads(response.readline())
        self.assertEqual(event["type"], "BOOKMARK")
        self.assertGreater(int(event["object"]["metadata"]["resourceVersion"]), int(rv))
        self.call(self.control, "POST", "/compact")
        _, gone = self.call(self.api, "GET", "/api/v1/services?watch=1&resourceVersion=" + rv)
        self.assertEqual(gone["type"], "ERROR")
        self.assertEqual(gone["object"]["code"], 410)
        self.call(self.control, "POST", "/config", {"goneMode": "status"})
        status, body = self.call(self.api, "GET", "/api/v1/services?watch=1&resourceVersion=" + rv)
        self.assertEqual((status, body["reason"]), (410, "Expired"))

    def test_cut_drops_open_watches(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.api, timeout=10)
        conn.request("GET", "/api/v1/services?watch=1&resourceVersion=100")
        response = conn.getresponse()
        deadline = time.monotonic() + 5
        while self.call(self.control, "GET", "/state")[1]["openWatches"] != 1:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.02)
        self.assertEqual(self.call(self.control, "POST", "/cut")[1]["cut"], 1)
        with self.assertRaises(http.client.IncompleteRead):
            response.read()  # no terminating chunk: a broken stream, not a clean end

    def test_cut_mid_event_sends_half_an_event(self):
        status, created = self.call(self.control, "POST", "/objects", self.service("before"))
        rv = created[0]["metadata"]["resourceVersion"]
        conn = http.client.HTTPConnection("127.0.0.1", self.api, timeout=10)
        conn.request("GET", "/api/v1/services?watch=1&resourceVersion=" + rv)
        response = conn.getresponse()
        deadline = time.monotonic() + 5
        while self.call(self.control, "GET", "/state")[1]["openWatches"] != 1:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.02)
        self.assertEqual(self.call(self.control, "POST", "/cut", {"midEvent": True})[1]["armed"], 1)
        self.call(self.control, "POST", "/objects", self.service("web"))
        with self.assertRaises(http.client.IncompleteRead) as cut:
            response.read()
        partial = cut.exception.partial
        self.assertIn(b'"type": "ADDED"', partial)
        self.assertFalse(partial.endswith(b"\n"))  # half a line: no whole event
        with self.assertRaises(ValueError):
            json.loads(partial)
        self.assertEqual(self.call(self.control, "GET", "/state")[1]["midEventCuts"], 1)


if __name__ == "__main__":
    unittest.main()
