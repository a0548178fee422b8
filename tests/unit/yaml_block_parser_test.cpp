// The fast YAML reader against yaml-cpp: whatever it accepts must read exactly as yaml-cpp
// reads it, and what it cannot read it must hand back (never guess).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "controller/source/yaml_block_parser.h"
#include "controller/source/yaml_documents.h"

using namespace bpfproxy::controller;
using web::json::value;
namespace fs = std::filesystem;

namespace {

const char* kManifest = R"(# a Service and its slice, the way people write them
apiVersion: v1
kind: Service
metadata:
  name: svc-00001
  namespace: bench
  labels:
    app.kubernetes.io/name: "web"   # quoted, with a comment
    'tier': 'front''end'
spec:
  type: NodePort
  clusterIP: 10.32.0.11
  clusterIPs:
  - 10.32.0.11
  ipFamilies: [IPv4]
  ports:
  - name: http
    port: 80
    protocol: TCP
    targetPort: 8080
    nodePort: 30001
  - {name: dns, port: 53, protocol: UDP, targetPort: "dns"}
  selector: {}
  sessionAffinity: ClientIP
  sessionAffinityConfig:
    clientIP:
      timeoutSeconds: 10800
  externalIPs: []
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: svc-00001-b7x9q
  namespace: bench
  labels: {kubernetes.io/service-name: svc-00001}
addressType: IPv6
endpoints:
  - addresses:
      - "fd00::1"
      - ::2
    conditions:
      ready: true
      serving: yes
      terminating: ~
    nodeName: server
    zone:
    hints:
      forZones: [{name: zone-a}]
  - addresses: [10.64.0.12]
    conditions: {ready: false}
ports:
- name: http
  port: 8080
  protocol: TCP
- ratio: 1.5e3
  negative: -3
  plus: +7
  url: http://example.com:8080/path#frag
  empty: ""
  escaped: "tab\there \"quoted\" \u00e9"
...
)";

std::string readFile(const fs::path& path) {
  std::ifstream stream(path);
  std::stringstream text;
  text << stream.rdbuf();
  return text.str();
}

// The fast reader's answer, checked against yaml-cpp's; true when it read the text itself.
bool agreesWithYamlCpp(const std::string& text) {
  auto fast = parseBlockYaml(text);
  if (!fast) return false;
  std::vector<value> reference;
  try {
    reference = parseYamlDocumentsWithYamlCpp(text);
  } catch (const std::exception& error) {
    FAIL_CHECK("the fast reader accepted what yaml-cpp rejects (", std::string(error.what()), "):\n", text);
    return true;
  }
  CHECK_MESSAGE(fast->size() == reference.size(), text);
  for (size_t i = 0; i < std::min(fast->size(), reference.size()); ++i)
    CHECK_MESSAGE((*fast)[i] == reference[i], "document ", i + 1, ": ",
                  utility::conversions::to_utf8string((*fast)[i].serialize()), " vs ",
                  utility::conversions::to_utf8string(reference[i].serialize()), "\n", text);
  return true;
}

}  // namespace

TEST_CASE("yaml block reader: manifests read as yaml-cpp reads them, without yaml-cpp") {
  // The "..." end marker is outside the subset: without it the reader takes the file.
  std::string manifest = kManifest;
  CHECK_FALSE(parseBlockYaml(manifest));
  manifest = manifest.substr(0, manifest.rfind("...\n"));
  CHECK(agreesWithYamlCpp(manifest));
  auto documents = *parseBlockYaml(manifest);
  REQUIRE(documents.size() == 2);
  CHECK(documents[0].at("spec").at("ports").at(1).at("targetPort").as_string() == "dns");
  CHECK(documents[1].at("ports").at(1).at("plus").as_integer() == 7);
  for (const char* name : {"tests/e2e/manifests/reference.yaml", "tests/e2e/manifests/nginx.yaml"}) {
    INFO(name);
    CHECK(agreesWithYamlCpp(readFile(fs::path(BPFPROXY_SOURCE_DIR) / name)));
  }
}

TEST_CASE("yaml block reader: every YAML file in the tree reads as yaml-cpp reads it, or is handed back") {
  size_t files = 0;
  for (const char* folder : {"tests", "deploy", "helm"}) {
    fs::path root = fs::path(BPFPROXY_SOURCE_DIR) / folder;
    if (!fs::exists(root)) continue;
    for (const auto& entry : fs::recursive_directory_iterator(root)) {
      auto extension = entry.path().extension();
      if (extension != ".yaml" && extension != ".yml") continue;
      if (entry.path().string().find("templates") != std::string::npos) continue;  // Helm, not YAML yet
      INFO(entry.path().string());
      agreesWithYamlCpp(readFile(entry.path()));
      ++files;
    }
  }
  CHECK(files > 3);
}

TEST_CASE("yaml block reader: what it hands back to yaml-cpp") {
  const char* cases[] = {
      "a: &x 1\nb: *x\n",                 // anchors and aliases
      "a: !!str 1\n",                     // tags
      "a: |\n  text\n",                   // block scalars
      "a: >\n  text\n",
      "a: one\n  two\n",                  // a multi-line plain scalar
      "a: \"one\n  two\"\n",              // a multi-line quoted scalar
      "a:\n\tb: 1\n",                     // tabs
      "a: 1\na: 2\n",                     // duplicate keys
      "? a\n: 1\n",                       // complex keys
      "%YAML 1.2\n---\na: 1\n",           // directives
      "a: [1,\n  2]\n",                   // a flow collection over two lines
      "a: b: c\n",                        // not YAML
      "a:\n  b: 1\n c: 2\n",              // indentation nothing takes
      "- a\nb: 1\n",
      "a: [b: 1]\n",                      // a single-pair mapping in a flow sequence
      "--- a: 1\n",                       // content after the document marker
  };
  for (const char* text : cases) {
    INFO(text);
    CHECK_FALSE(parseBlockYaml(text));
  }
}

TEST_CASE("yaml block reader: documents are counted as yaml-cpp counts them") {
  for (const char* text : {"", "\n", "# only a comment\n", "a: 1\n", "---\na: 1\n", "a: 1\n---\n",
                           "---\n---\na: 1\n", "a: 1\n---\n# nothing\n---\nb: 2\n", "--- # c\na: 1\n",
                           "plain\n", "- 1\n- - 2\n  - 3\n-\n- a: 1\n  b:\n  - x\n"}) {
    INFO(text);
    CHECK(agreesWithYamlCpp(text));
  }
}

TEST_CASE("yaml block reader: random edits of a manifest read as yaml-cpp reads them, or are handed back") {
  // Seeded, so a failure repeats; the edits are the characters YAML's structure is made of.
  std::mt19937 random(12);
  const std::string alphabet = " :-#'\"[]{},\n\\|>&*!?xy09.";
  const std::string base = std::string(kManifest).substr(0, std::string(kManifest).rfind("...\n"));
  size_t read = 0, handedBack = 0;
  for (int round = 0; round < 6000; ++round) {
    std::string text = base;
    int edits = 1 + static_cast<int>(random() % 3);
    for (int e = 0; e < edits; ++e) {
      size_t at = random() % text.size();
      switch (random() % 3) {
        case 0: text.erase(at, 1 + random() % 3); break;
        case 1: text.insert(at, 1, alphabet[random() % alphabet.size()]); break;
        default: text[at] = alphabet[random() % alphabet.size()]; break;
      }
    }
    (agreesWithYamlCpp(text) ? read : handedBack)++;
  }
  MESSAGE("read ", read, ", handed back ", handedBack);
  CHECK(read > 1000);  // the comparison happened for a good share of the edits
  CHECK(handedBack > 100);
}

TEST_CASE("yaml documents: the yaml-cpp path splits documents at \"---\" and \"...\" itself") {
  auto documents = parseYamlDocumentsWithYamlCpp(
      "# leading comment\na: {x: 1}\n---\n{b: [2, \"3\"]}\n...\n# between\n--- {c: true}\n---\n");
  REQUIRE(documents.size() == 4);
  CHECK(documents[0] == value::parse(R"({"a": {"x": 1}})"));
  CHECK(documents[1] == value::parse(R"({"b": [2, "3"]})"));
  CHECK(documents[2] == value::parse(R"({"c": true})"));
  CHECK(documents[3].is_null());  // after a trailing "---", as yaml-cpp's LoadAll reads it
  CHECK(parseYamlDocumentsWithYamlCpp("# only a comment\n").empty());
  // "---" not at column 0 or glued to text is no marker.
  CHECK(parseYamlDocumentsWithYamlCpp("a: |\n  ---\n  x\nb: ---x\n").size() == 1);
}

TEST_CASE("yaml documents: a bad document is named with its line in the file") {
  std::string message;
  try {
    parseYamlDocumentsWithYamlCpp("a: 1\n---\nb: 2\nc: [1,\n");
  } catch (const std::exception& error) {
    message = error.what();
  }
  CHECK_MESSAGE(message.find("document 2, line ") != std::string::npos, message);
  CHECK_THROWS_WITH_AS(parseYamlDocumentsWithYamlCpp("a: 1\n...\nb: 2\n"),
                       doctest::Contains("line 3: content after \"...\""), std::runtime_error);
}
