#include "controller/source/kube/kubeconfig.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace bpfproxy::controller::kube {

namespace fs = std::filesystem;

namespace {

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw KubeconfigError("cannot read " + path.string());
  }
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string trim(std::string text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) {
    return "";
  }
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

// Finds the entry `name` in a kubeconfig list (clusters, users, contexts) and returns its
// inner map (entry[field]).
YAML::Node findNamed(const YAML::Node& root, const std::string& list, const std::string& field,
                     const std::string& name, const std::string& where) {
  const YAML::Node entries = root[list];
  if (entries && !entries.IsSequence()) {
    throw KubeconfigError(where + ": " + list + ": not a list");
  }
  if (entries) {
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const YAML::Node entry = entries[i];
      if (entry["name"] && entry["name"].as<std::string>() == name) {
        const YAML::Node inner = entry[field];
        if (!inner || !inner.IsMap()) {
          throw KubeconfigError(where + ": " + list + "[name=" + name + "]." + field + ": missing");
        }
        return inner;
      }
    }
  }
  throw KubeconfigError(where + ": " + list + ": no entry named \"" + name + "\"");
}

std::string scalar(const YAML::Node& map, const std::string& key, const std::string& where) {
  const YAML::Node value = map[key];
  if (!value) {
    return "";
  }
  if (!value.IsScalar()) {
    throw KubeconfigError(where + "." + key + ": not a string");
  }
  return value.as<std::string>();
}

// key-data (base64) wins over key (a path relative to the kubeconfig's directory), as kubectl.
PemSource pemSource(const YAML::Node& map, const std::string& key, const std::string& where,
                    const fs::path& baseDir) {
  PemSource source;
  if (const std::string data = scalar(map, key + "-data", where); !data.empty()) {
    try {
      source.data = decodeBase64(data);
    } catch (const std::invalid_argument& e) {
      throw KubeconfigError(where + "." + key + "-data: " + e.what());
    }
    if (source.data.find("-----BEGIN") == std::string::npos) {
      throw KubeconfigError(where + "." + key + "-data: not PEM after base64 decoding");
    }
  } else if (const std::string file = scalar(map, key, where); !file.empty()) {
    source.file = fs::path(file).is_absolute() ? fs::path(file) : baseDir / file;
    if (!fs::exists(source.file)) {
      throw KubeconfigError(where + "." + key + ": " + source.file.string() + " does not exist");
    }
  }
  return source;
}

bool boolean(const YAML::Node& map, const std::string& key, const std::string& where) {
  const YAML::Node value = map[key];
  if (!value) {
    return false;
  }
  try {
    return value.as<bool>();
  } catch (const YAML::Exception&) {
    throw KubeconfigError(where + "." + key + ": not a boolean");
  }
}

}  // namespace

std::shared_ptr<BearerToken> BearerToken::fixed(std::string token) {
  std::shared_ptr<BearerToken> result(new BearerToken());
  result->token_ = std::move(token);
  result->loaded_ = true;
  return result;
}

std::shared_ptr<BearerToken> BearerToken::fromFile(fs::path path) {
  std::shared_ptr<BearerToken> result(new BearerToken());
  result->path_ = std::move(path);
  return result;
}

std::string BearerToken::get() {
  std::lock_guard lock(mutex_);
  if (path_.empty()) {
    return token_;
  }
  // The kubelet swaps a symlink to a new file; stat follows it, so mtime or size changes.
  std::error_code error;
  const auto mtime = fs::last_write_time(path_, error);
  const auto size = error ? 0 : fs::file_size(path_, error);
  if (error) {
    if (loaded_) {
      return token_;  // a rotation in progress: keep the previous token
    }
    throw KubeconfigError("token file " + path_.string() + ": " + error.message());
  }
  if (!loaded_ || mtime != mtime_ || size != size_) {
    token_ = trim(readFile(path_));
    mtime_ = mtime;
    size_ = size;
    loaded_ = true;
  }
  return token_;
}

std::string BearerToken::describe() const {
  return path_.empty() ? "static token" : "token file " + path_.string();
}

std::string decodeBase64(const std::string& text) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t accumulator = 0;
  int bits = 0;
  std::size_t padding = 0;
  std::size_t symbols = 0;
  for (const char c : text) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
      continue;
    }
    if (c == '=') {
      ++padding;
      ++symbols;
      continue;
    }
    const auto value = kAlphabet.find(c);
    if (value == std::string_view::npos || padding > 0) {
      throw std::invalid_argument("invalid base64");
    }
    ++symbols;
    accumulator = (accumulator << 6) | static_cast<uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((accumulator >> bits) & 0xff));
    }
  }
  if (symbols % 4 != 0 || padding > 2) {
    throw std::invalid_argument("invalid base64 (length)");
  }
  return out;
}

std::vector<std::string> parseServerList(const std::string& commaSeparated) {
  std::vector<std::string> servers;
  std::stringstream in(commaSeparated);
  std::string item;
  while (std::getline(in, item, ',')) {
    item = trim(item);
    if (item.empty()) {
      continue;
    }
    if (item.rfind("https://", 0) != 0 && item.rfind("http://", 0) != 0) {
      throw KubeconfigError("--api-server: \"" + item + "\" is not an http(s):// URL");
    }
    while (item.size() > 1 && item.back() == '/') {
      item.pop_back();
    }
    servers.push_back(item);
  }
  if (servers.empty()) {
    throw KubeconfigError("--api-server: no URL given");
  }
  return servers;
}

ClusterConfig loadKubeconfig(const fs::path& path, const std::string& context) {
  const std::string file = "kubeconfig " + path.string();
  YAML::Node root;
  try {
    root = YAML::LoadFile(path.string());
  } catch (const YAML::BadFile&) {
    throw KubeconfigError(file + ": cannot read the file");
  } catch (const YAML::Exception& e) {
    throw KubeconfigError(file + ": not YAML: " + e.what());
  }
  if (!root.IsMap()) {
    throw KubeconfigError(file + ": not a kubeconfig (expected a map at the top)");
  }
  const fs::path baseDir = path.parent_path().empty() ? fs::path(".") : path.parent_path();

  const std::string contextName = context.empty() ? scalar(root, "current-context", file) : context;
  if (contextName.empty()) {
    throw KubeconfigError(file + ": current-context: not set (give --context)");
  }
  const YAML::Node ctx = findNamed(root, "contexts", "context", contextName,
                                   context.empty() ? file + " (current-context)" : file + " (--context)");
  const std::string ctxWhere = file + ": contexts[name=" + contextName + "].context";
  const std::string clusterName = scalar(ctx, "cluster", ctxWhere);
  if (clusterName.empty()) {
    throw KubeconfigError(ctxWhere + ".cluster: missing");
  }

  ClusterConfig config;
  config.origin = file + " context " + contextName;
  const YAML::Node cluster = findNamed(root, "clusters", "cluster", clusterName, file);
  const std::string clusterWhere = file + ": clusters[name=" + clusterName + "].cluster";
  const std::string server = scalar(cluster, "server", clusterWhere);
  if (server.empty()) {
    throw KubeconfigError(clusterWhere + ".server: missing");
  }
  try {
    config.servers = parseServerList(server);
  } catch (const KubeconfigError&) {
    throw KubeconfigError(clusterWhere + ".server: \"" + server + "\" is not an http(s):// URL");
  }
  config.tls.certificateAuthority = pemSource(cluster, "certificate-authority", clusterWhere, baseDir);
  config.tls.insecureSkipTlsVerify = boolean(cluster, "insecure-skip-tls-verify", clusterWhere);

  // A context without a user is valid (anonymous, or client certs not needed).
  if (const std::string userName = scalar(ctx, "user", ctxWhere); !userName.empty()) {
    const YAML::Node user = findNamed(root, "users", "user", userName, file);
    const std::string userWhere = file + ": users[name=" + userName + "].user";
    for (const char* unsupported : {"exec", "auth-provider", "username", "password"}) {
      if (user[unsupported]) {
        throw KubeconfigError(userWhere + "." + unsupported +
                              ": not supported (use a token, tokenFile or client certificate)");
      }
    }
    config.tls.clientCertificate = pemSource(user, "client-certificate", userWhere, baseDir);
    config.tls.clientKey = pemSource(user, "client-key", userWhere, baseDir);
    if (config.tls.clientCertificate.empty() != config.tls.clientKey.empty()) {
      throw KubeconfigError(userWhere + ": client-certificate and client-key must be given together");
    }
    if (const std::string token = scalar(user, "token", userWhere); !token.empty()) {
      config.token = BearerToken::fixed(token);
    } else if (const std::string tokenFile = scalar(user, "tokenFile", userWhere); !tokenFile.empty()) {
      const fs::path tokenPath = fs::path(tokenFile).is_absolute() ? fs::path(tokenFile) : baseDir / tokenFile;
      if (!fs::exists(tokenPath)) {
        throw KubeconfigError(userWhere + ".tokenFile: " + tokenPath.string() + " does not exist");
      }
      config.token = BearerToken::fromFile(tokenPath);
    }
  }
  return config;
}

ClusterConfig inClusterConfig(const fs::path& serviceAccountDir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (host == nullptr || *host == '\0' || port == nullptr || *port == '\0') {
    throw KubeconfigError(
        "in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set "
        "(not in a pod? give --kubeconfig or --api-server)");
  }
  std::string hostText = host;
  if (hostText.find(':') != std::string::npos) {
    hostText = "[" + hostText + "]";  // IPv6 literal
  }
  ClusterConfig config;
  config.origin = "in-cluster service account " + serviceAccountDir.string();
  config.servers = {"https://" + hostText + ":" + port};
  const fs::path tokenPath = serviceAccountDir / "token";
  const fs::path caPath = serviceAccountDir / "ca.crt";
  if (!fs::exists(tokenPath)) {
    throw KubeconfigError("in-cluster: " + tokenPath.string() + " does not exist");
  }
  if (!fs::exists(caPath)) {
    throw KubeconfigError("in-cluster: " + caPath.string() + " does not exist");
  }
  config.token = BearerToken::fromFile(tokenPath);
  config.token->get();  // fail now, not at the first request, when it cannot be read
  config.tls.certificateAuthority.file = caPath;
  return config;
}

}  // namespace bpfproxy::controller::kube
