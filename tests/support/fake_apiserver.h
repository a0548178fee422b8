#pragma once
// Runs tests/fake_apiserver/fake_apiserver.py as a child process on 127.0.0.1 for the length
// of a test, and drives it through its control API. Killed by PID on destruction.
#include <cpprest/json.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace bpfproxy::testing {

// A throwaway PKI from tests/fake_apiserver/gen_certs.sh (openssl CLI): ca.crt,
// server.crt/key, client.crt/key, other-ca.crt, other-client.crt/key.
class TestPki {
public:
  TestPki();
  ~TestPki();
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;
  std::filesystem::path file(const std::string& name) const { return dir_ / name; }
  const std::filesystem::path& dir() const { return dir_; }

private:
  std::filesystem::path dir_;
};

struct FakeApiServerOptions {
  const TestPki* tls = nullptr;  // serve HTTPS with its server cert, accept its client certs
  std::vector<std::string> tokens;  // accepted bearer tokens (none and no TLS: anonymous)
  double bookmarkInterval = 0.5;    // seconds
};

class FakeApiServer {
public:
  explicit FakeApiServer(FakeApiServerOptions options = {});
  ~FakeApiServer();
  FakeApiServer(const FakeApiServer&) = delete;
  FakeApiServer& operator=(const FakeApiServer&) = delete;

  std::string url() const;  // https://127.0.0.1:PORT or http://...
  uint16_t apiPort() const { return apiPort_; }

  // The control API (see tests/fake_apiserver/README.md).
  web::json::value upsert(const web::json::value& object);  // returns the stored object
  void remove(const std::string& resource, const std::string& namespace_, const std::string& name);
  void compact();     // forget history: older resourceVersions get 410 Gone
  int cutWatches();   // drop open watch streams mid-stream
  void down();        // stop listening and drop every connection
  void up();          // listen again on the same port
  void configure(const web::json::value& settings);  // {"tokens":[..],"goneMode":"status",...}
  web::json::value state();  // resourceVersion, openWatches, watchesOpened, requests

private:
  web::json::value control(const std::string& method, const std::string& path,
                           const web::json::value& body = web::json::value::null());

  std::filesystem::path dir_;
  pid_t pid_ = -1;
  uint16_t apiPort_ = 0;
  uint16_t controlPort_ = 0;
  bool tls_ = false;
};

// Polls until predicate() holds or the limit passes (then one last look): no fixed sleeps.
template <typename Predicate>
bool eventually(Predicate predicate, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return predicate();
}

// A free TCP port on 127.0.0.1 that nothing listens on (for failover tests).
uint16_t unusedPort();

}  // namespace bpfproxy::testing
