// Kubeconfig and in-cluster configuration: the good forms, and each kind of bad one named.
#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "controller/source/kube/kubeconfig.h"

using namespace bpfproxy::controller::kube;
namespace fs = std::filesystem;

namespace {

const fs::path kData = fs::path(BPFPROXY_SOURCE_DIR) / "tests/unit/testdata/kube";

// A temp dir with files in it; removed at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "bpfproxy-kubeconfig-XXXXXX").string();
    path = mkdtemp(pattern.data());
  }
  ~TempDir() { fs::remove_all(path); }
  fs::path write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name) << text;
    return path / name;
  }
};

std::string errorOf(const fs::path& file, const std::string& context = "") {
  try {
    loadKubeconfig(file, context);
  } catch (const KubeconfigError& e) {
    return e.what();
  }
  return "no error";
}

// A valid kubeconfig with one line of its body replaced.
std::string kubeconfigWith(const std::string& clusterExtra, const std::string& userExtra) {
  return "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
         "clusters:\n- name: k\n  cluster:\n    server: https://127.0.0.1:6443\n" +
         clusterExtra +
         "users:\n- name: u\n  user:\n    token: t\n" + userExtra +
         "contexts:\n- name: c\n  context:\n    cluster: k\n    user: u\n";
}

}  // namespace

TEST_CASE("kubeconfig: current-context with client certificate and CA as data") {
  const ClusterConfig config = loadKubeconfig(kData / "kubeconfig.yaml");
  CHECK(config.servers == std::vector<std::string>{"https://127.0.0.1:6443"});
  CHECK(config.tls.certificateAuthority.data.starts_with("-----BEGIN CERTIFICATE-----"));
  CHECK(config.tls.clientCertificate.data.starts_with("-----BEGIN CERTIFICATE-----"));
  CHECK(config.tls.clientKey.data.starts_with("-----BEGIN PRIVATE KEY-----"));
  CHECK_FALSE(config.token);
  CHECK_FALSE(config.tls.insecureSkipTlsVerify);
  CHECK(config.origin.find("context kind-dev") != std::string::npos);
}

TEST_CASE("kubeconfig: --context picks another cluster, relative files from the kubeconfig's dir") {
  const ClusterConfig config = loadKubeconfig(kData / "kubeconfig.yaml", "prod");
  CHECK(config.servers == std::vector<std::string>{"https://10.0.0.1:6443"});  // trailing / dropped
  CHECK(config.tls.certificateAuthority.file == kData / "ca.crt");
  REQUIRE(config.token);
  CHECK(config.token->get() == "token-from-file");
  CHECK(config.token->describe() == "token file " + (kData / "token").string());
}

TEST_CASE("kubeconfig: static token and insecure-skip-tls-verify") {
  const ClusterConfig config = loadKubeconfig(kData / "kubeconfig.yaml", "lab");
  REQUIRE(config.token);
  CHECK(config.token->get() == "abc.def.ghi");
  CHECK(config.tls.insecureSkipTlsVerify);
  CHECK(config.tls.certificateAuthority.empty());
}

TEST_CASE("kubeconfig: each kind of mistake names its key") {
  TempDir dir;
  struct Case {
    const char* description;
    std::string text;
    std::string context;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"missing file", "", "", "cannot read the file"},
      {"not YAML", "a: [b\n", "", "not YAML"},
      {"not a map", "- a\n", "", "expected a map"},
      {"no current-context", "clusters: []\n", "", "current-context: not set"},
      {"unknown --context", kubeconfigWith("", ""), "nope", "contexts: no entry named \"nope\""},
      {"context names an unknown cluster",
       "current-context: c\ncontexts:\n- name: c\n  context:\n    cluster: gone\n", "",
       "clusters: no entry named \"gone\""},
      {"server missing",
       "current-context: c\nclusters:\n- name: k\n  cluster: {}\ncontexts:\n- name: c\n  context:\n    cluster: k\n",
       "", "clusters[name=k].cluster.server: missing"},
      {"server not a URL", kubeconfigWith("", "").replace(kubeconfigWith("", "").find("https://"), 8, "ftp://"), "",
       "clusters[name=k].cluster.server"},
      {"bad base64", kubeconfigWith("    certificate-authority-data: '!!notbase64'\n", ""), "",
       "clusters[name=k].cluster.certificate-authority-data: invalid base64"},
      {"base64 of something not PEM", kubeconfigWith("    certificate-authority-data: aGVsbG8=\n", ""), "",
       "certificate-authority-data: not PEM"},
      {"CA file missing", kubeconfigWith("    certificate-authority: /nonexistent/ca.crt\n", ""), "",
       "clusters[name=k].cluster.certificate-authority: /nonexistent/ca.crt does not exist"},
      {"insecure not a boolean", kubeconfigWith("    insecure-skip-tls-verify: maybe\n", ""), "",
       "insecure-skip-tls-verify: not a boolean"},
      {"certificate without key", kubeconfigWith("", "    client-certificate: " + (kData / "ca.crt").string() + "\n"),
       "", "users[name=u].user: client-certificate and client-key must be given together"},
      {"exec plugin", kubeconfigWith("", "    exec: {command: aws}\n"), "", "users[name=u].user.exec: not supported"},
      {"token file missing", "current-context: c\nclusters:\n- name: k\n  cluster:\n    server: https://h\n"
                             "users:\n- name: u\n  user:\n    tokenFile: /nonexistent/token\n"
                             "contexts:\n- name: c\n  context:\n    cluster: k\n    user: u\n",
       "", "users[name=u].user.tokenFile: /nonexistent/token does not exist"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.description);
    const fs::path file = std::string(c.description) == "missing file" ? dir.path / "absent" : dir.write("k.yaml", c.text);
    const std::string error = errorOf(file, c.context);
    CHECK_MESSAGE(error.find(c.expected) != std::string::npos, error);
    CHECK(error.find(file.string()) != std::string::npos);  // and the file
  }
}

TEST_CASE("--api-server: a comma-separated list of URLs") {
  CHECK(parseServerList("https://a:6443, https://b:6443/") ==
        std::vector<std::string>{"https://a:6443", "https://b:6443"});
  CHECK_THROWS_WITH_AS(parseServerList("a:6443"), doctest::Contains("not an http(s):// URL"), KubeconfigError);
  CHECK_THROWS_AS(parseServerList(" , "), KubeconfigError);
}

TEST_CASE("base64: padding, whitespace and rejects") {
  CHECK(decodeBase64("aGVsbG8=") == "hello");
  CHECK(decodeBase64("aGVs\nbG8h") == "hello!");
  CHECK(decodeBase64("") == "");
  CHECK_THROWS_AS(decodeBase64("aGVsbG8"), std::invalid_argument);
  CHECK_THROWS_AS(decodeBase64("aG=VsbG8"), std::invalid_argument);
}

TEST_CASE("in-cluster: environment, service-account dir, and a token that rotates") {
  TempDir dir;
  dir.write("ca.crt", "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n");
  dir.write("token", "first\n");
  unsetenv("KUBERNETES_SERVICE_HOST");
  CHECK_THROWS_WITH_AS(inClusterConfig(dir.path), doctest::Contains("KUBERNETES_SERVICE_HOST"), KubeconfigError);

  setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
  setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  const ClusterConfig config = inClusterConfig(dir.path);
  CHECK(config.servers == std::vector<std::string>{"https://[fd00::1]:443"});
  CHECK(config.tls.certificateAuthority.file == dir.path / "ca.crt");
  REQUIRE(config.token);
  CHECK(config.token->get() == "first");

  // The kubelet writes a new file and swaps it in: the next request must use it.
  dir.write("token.new", "second-and-longer\n");
  fs::rename(dir.path / "token.new", dir.path / "token");
  CHECK(config.token->get() == "second-and-longer");

  fs::remove(dir.path / "ca.crt");
  CHECK_THROWS_WITH_AS(inClusterConfig(dir.path), doctest::Contains("ca.crt does not exist"), KubeconfigError);
  unsetenv("KUBERNETES_SERVICE_HOST");
  unsetenv("KUBERNETES_SERVICE_PORT");
}
