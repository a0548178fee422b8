#pragma once
// A small Kubernetes API client on cpprestsdk: paginated lists and streaming watches, JSON
// only, with failover between several API server URLs.
#include <cpprest/json.h>
#include <cpprest/streams.h>
#include <pplx/pplxtasks.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "controller/source/kube/kubeconfig.h"

namespace bpfproxy::controller::kube {

// The API server answered with an error status (or a watch ERROR event): code and reason
// from its Status object, e.g. 410 "Expired", 401 "Unauthorized".
class ApiError : public std::runtime_error {
public:
  ApiError(int code, std::string reason, const std::string& message)
      : std::runtime_error(message), code_(code), reason_(std::move(reason)) {}
  int code() const { return code_; }
  const std::string& reason() const { return reason_; }
  // The resourceVersion is too old (410 Gone / Expired): relist.
  bool isGone() const { return code_ == 410 || reason_ == "Expired" || reason_ == "Gone"; }

private:
  int code_;
  std::string reason_;
};

// No API server could be reached (connect, TLS, dropped connection); worth a retry.
class TransportError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

struct Selectors {
  std::string labelSelector;  // "!service.kubernetes.io/headless,..."
  std::string fieldSelector;  // "metadata.name=node-1"
};

struct ListResult {
  std::vector<web::json::value> items;  // as the server wrote them (no kind/apiVersion)
  std::string resourceVersion;          // of the whole list: where a watch starts
};

struct WatchEvent {
  std::string type;  // ADDED, MODIFIED, DELETED, BOOKMARK, ERROR
  web::json::value object;
};

// A watch response body: one JSON event per line, decoded as the chunks arrive, wherever
// their boundaries fall. Returns at the end of the stream; throws TransportError on a
// broken stream or an undecodable line, ApiError on an ERROR event. (A function of its own
// so that tests and fuzz/ feed it chunks directly.)
void readWatchStream(concurrency::streams::istream stream, const std::string& context,
                     const std::function<void(const WatchEvent&)>& onEvent,
                     pplx::cancellation_token cancel = pplx::cancellation_token::none());

struct ApiClientOptions {
  std::chrono::seconds requestTimeout{30};  // lists; for watches: timeoutSeconds + this
  uint32_t pageSize = 500;                  // list `limit`; 0: no pagination
  std::string userAgent = "bpfproxy";
};

class ApiClient {
public:
  explicit ApiClient(ClusterConfig config, ApiClientOptions options = {});
  ~ApiClient();
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  // GET path (e.g. "/api/v1/services") page by page. Throws ApiError, TransportError, or
  // pplx::task_canceled when `cancel` fires.
  ListResult list(const std::string& path, const Selectors& selectors,
                  pplx::cancellation_token cancel = pplx::cancellation_token::none());

  // Watches from resourceVersion with bookmarks, calling onEvent for each event as it
  // arrives. Returns when the server ends the stream (timeoutSeconds). A 410 in the status
  // or in an ERROR event throws ApiError with isGone(); a dropped stream, TransportError.
  void watch(const std::string& path, const Selectors& selectors, const std::string& resourceVersion,
             std::chrono::seconds timeout, const std::function<void(const WatchEvent&)>& onEvent,
             pplx::cancellation_token cancel = pplx::cancellation_token::none());

  // POST path with a JSON body (e.g. a SelfSubjectAccessReview); returns the object the
  // server answered (2xx). Throws ApiError or TransportError.
  web::json::value create(const std::string& path, const web::json::value& body,
                          pplx::cancellation_token cancel = pplx::cancellation_token::none());

  // The URL that answered last (or will be tried first).
  std::string currentServer() const;
  const ClusterConfig& config() const { return config_; }

private:
  struct Endpoint;
  // Sends a GET to the current server, moving on to the next ones on transport errors and
  // 5xx. Returns the response once its headers arrived; the body may still be streaming.
  // `body`: a POST of it instead of a GET.
  web::json::value getJson(const std::string& pathAndQuery, pplx::cancellation_token cancel,
                           const web::json::value* body = nullptr);
  struct Response;
  Response send(const std::string& pathAndQuery, bool watch, std::chrono::seconds timeout,
                pplx::cancellation_token cancel, const web::json::value* body = nullptr);

  ClusterConfig config_;
  ApiClientOptions options_;
  std::vector<std::unique_ptr<Endpoint>> endpoints_;
  std::atomic<std::size_t> current_{0};
};

// Builds "path?k=v&..." with the values URL-encoded.
std::string buildQuery(const std::string& path, const std::vector<std::pair<std::string, std::string>>& params);

// An ApiError from a Status object ({"kind":"Status","code":410,"reason":"Expired",...}).
ApiError statusError(const web::json::value& status, int httpCode, const std::string& context);

}  // namespace bpfproxy::controller::kube
