#include "tests/support/fake_apiserver.h"

#include <arpa/inet.h>
#include <cpprest/http_client.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#ifndef BPFPROXY_SOURCE_DIR
#error "BPFPROXY_SOURCE_DIR must name the source tree"
#endif

namespace bpfproxy::testing {

namespace fs = std::filesystem;

namespace {

fs::path makeTempDir(const char* prefix) {
  std::string pattern = (fs::temp_directory_path() / (std::string(prefix) + "XXXXXX")).string();
  if (mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp failed");
  }
  return pattern;
}

std::string slurp(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

const fs::path kFakeDir = fs::path(BPFPROXY_SOURCE_DIR) / "tests" / "fake_apiserver";

}  // namespace

TestPki::TestPki() : dir_(makeTempDir("bpfproxy-pki-")) {
  const std::string command = (kFakeDir / "gen_certs.sh").string() + " " + dir_.string();
  if (std::system(command.c_str()) != 0) {
    fs::remove_all(dir_);
    throw std::runtime_error("gen_certs.sh failed (is openssl installed?)");
  }
}

TestPki::~TestPki() {
  std::error_code ignored;
  fs::remove_all(dir_, ignored);
}

FakeApiServer::FakeApiServer(FakeApiServerOptions options)
    : dir_(makeTempDir("bpfproxy-fakeapi-")), tls_(options.tls != nullptr) {
  const fs::path readyFile = dir_ / "ready.json";
  std::vector<std::string> args = {"python3", (kFakeDir / "fake_apiserver.py").string(), "--ready-file",
                                   readyFile.string(), "--bookmark-interval",
                                   std::to_string(options.bookmarkInterval)};
  if (options.tls != nullptr) {
    args.insert(args.end(), {"--tls-cert", options.tls->file("server.crt").string(), "--tls-key",
                             options.tls->file("server.key").string(), "--client-ca",
                             options.tls->file("ca.crt").string()});
  }
  for (const auto& token : options.tokens) {
    args.insert(args.end(), {"--token", token});
  }
  const fs::path log = dir_ / "server.log";
  // Everything the child needs is built before fork: no allocation after it.
  std::vector<char*> argv;
  for (auto& arg : args) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);
  pid_ = fork();
  if (pid_ < 0) {
    throw std::runtime_error("fork failed");
  }
  if (pid_ == 0) {
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    execvp(argv[0], argv.data());
    _exit(127);
  }
  // Ready when it has written the ports (atomically); bounded wait.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (!fs::exists(readyFile)) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("fake_apiserver.py exited: " + slurp(log));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("fake_apiserver.py not ready after 15s: " + slurp(log));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const auto ready = web::json::value::parse(slurp(readyFile));
  apiPort_ = static_cast<uint16_t>(ready.at("apiPort").as_integer());
  controlPort_ = static_cast<uint16_t>(ready.at("controlPort").as_integer());
}

FakeApiServer::~FakeApiServer() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    int status = 0;
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  std::error_code ignored;
  fs::remove_all(dir_, ignored);
}

std::string FakeApiServer::url() const {
  return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(apiPort_);
}

web::json::value FakeApiServer::control(const std::string& method, const std::string& path,
                                        const web::json::value& body) {
  web::http::client::http_client client("http://127.0.0.1:" + std::to_string(controlPort_));
  web::http::http_request request(method);
  request.set_request_uri(path);
  if (!body.is_null()) {
    request.set_body(body);
  }
  auto response = client.request(request).get();
  auto json = response.extract_json(true).get();
  if (response.status_code() != 200) {
    throw std::runtime_error("fake apiserver control " + method + " " + path + ": " + json.serialize());
  }
  return json;
}

web::json::value FakeApiServer::upsert(const web::json::value& object) {
  return control("POST", "/objects", object).at(0);
}

void FakeApiServer::remove(const std::string& resource, const std::string& namespace_, const std::string& name) {
  control("DELETE", "/objects/" + resource + "/" + (namespace_.empty() ? "" : namespace_ + "/") + name);
}

void FakeApiServer::compact() { control("POST", "/compact"); }
int FakeApiServer::cutWatches() { return control("POST", "/cut").at("cut").as_integer(); }
void FakeApiServer::down() { control("POST", "/down"); }
void FakeApiServer::up() { control("POST", "/up"); }
void FakeApiServer::configure(const web::json::value& settings) { control("POST", "/config", settings); }
web::json::value FakeApiServer::state() { return control("GET", "/state"); }

uint16_t unusedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);  // bound, never listened: connecting to it is refused
  return ntohs(address.sin_port);
}

}  // namespace bpfproxy::testing
