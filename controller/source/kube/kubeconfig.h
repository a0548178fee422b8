#pragma once
// How to reach and authenticate to the API server: from a kubeconfig file, from the pod's
// service account (in-cluster), or from --api-server URLs. One ClusterConfig for all three.
#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace bpfproxy::controller::kube {

inline constexpr const char* kServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";

// A configuration that cannot be used; the message names the file and the key.
class KubeconfigError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// A bearer token, fixed or read from a file. The file is re-read when it changes, because
// bound service-account tokens are rotated by the kubelet (about hourly).
class BearerToken {
public:
  static std::shared_ptr<BearerToken> fixed(std::string token);
  static std::shared_ptr<BearerToken> fromFile(std::filesystem::path path);

  // The current token; throws KubeconfigError when the file cannot be read.
  std::string get();
  std::string describe() const;  // "token file /x" or "static token": never the token

private:
  BearerToken() = default;
  std::mutex mutex_;
  std::string token_;
  std::filesystem::path path_;  // empty: fixed token
  std::filesystem::file_time_type mtime_{};
  uintmax_t size_ = 0;
  bool loaded_ = false;
};

// PEM material, in memory (from *-data keys) or as file paths (read at each connection,
// so rotated files are picked up). boost::asio takes both, so no temp files are needed.
struct PemSource {
  std::string data;
  std::filesystem::path file;
  bool empty() const { return data.empty() && file.empty(); }
};

struct TlsConfig {
  PemSource certificateAuthority;  // empty: the system's trust store
  PemSource clientCertificate;
  PemSource clientKey;
  bool insecureSkipTlsVerify = false;
};

struct ClusterConfig {
  std::vector<std::string> servers;  // https://host:port, tried in order (failover)
  TlsConfig tls;
  std::shared_ptr<BearerToken> token;  // null: no Authorization header
  std::string origin;  // for logs: "kubeconfig /root/.kube/config context kind-kind"
};

// --kubeconfig FILE [--context NAME]: an empty context means current-context.
ClusterConfig loadKubeconfig(const std::filesystem::path& path, const std::string& context = "");

// In-cluster: KUBERNETES_SERVICE_HOST/PORT, and token and ca.crt from the service-account
// directory (overridable for tests).
ClusterConfig inClusterConfig(const std::filesystem::path& serviceAccountDir = kServiceAccountDir);

// "--api-server URL[,URL]": replaces the servers of a config loaded another way, since a
// node without kube-proxy cannot reach the `kubernetes` ClusterIP before we program it.
std::vector<std::string> parseServerList(const std::string& commaSeparated);

std::string decodeBase64(const std::string& text);  // throws std::invalid_argument

}  // namespace bpfproxy::controller::kube
