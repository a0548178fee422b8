#include "controller/source/kube/api_health.h"

#include <spdlog/spdlog.h>

namespace bpfproxy::controller::kube {

std::string apiErrorReason(const std::string& message) {
  auto has = [&](const char* text) { return message.find(text) != std::string::npos; };
  if (has("stream broken") || has("undecodable event")) return "watch_broken";
  // Before tls: a 401's message names the credentials, which may be a client certificate.
  if (has("HTTP 401") || has("HTTP 403") || has("Unauthorized") || has("Forbidden")) return "unauthorized";
  if (has("handshake") || has("certificate") || has("SSL") || has("ssl") || has("TLS")) return "tls";
  // TLS 1.3 checks the client certificate after the client's side of the handshake: a
  // rejected certificate reaches the client as an HTTPS server closing before it answers.
  if (has("https://") && has("Failed to read HTTP status line")) return "tls";
  if (has("HTTP 5")) return "server_error";
  if (has("no API server answered") || has("connect") || has("refused") || has("timed out") || has("timeout"))
    return "unreachable";
  return "other";
}

KubeSourceStats ApiHealth::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void ApiHealth::touch() {
  std::string recovered;
  {
    std::lock_guard lock(mutex_);
    stats_.lastContact = std::chrono::system_clock::now();
    recovered.swap(stats_.lastError);
    stats_.backoff = std::chrono::milliseconds(0);
  }
  if (!recovered.empty()) spdlog::info("kube: the API server answers again (last error: {})", recovered);
}

void ApiHealth::noteError(const char* kindName, const std::string& message) {
  bool first = false;
  const std::string reason = apiErrorReason(message);
  {
    std::lock_guard lock(mutex_);
    ++stats_.errors;
    ++stats_.errorsByReason[reason];
    first = stats_.lastError.empty() || apiErrorReason(stats_.lastError) != reason;
    stats_.lastError = message;
  }
  // Once per outage and cause at warning level (a cut watch, then a refused connection, is
  // two lines); the repeats would only fill the log.
  if (first) {
    spdlog::warn("kube: {}s: {} ({}); retrying with backoff", kindName, message, reason);
  } else {
    spdlog::debug("kube: {}s: {}", kindName, message);
  }
}

void ApiHealth::noteForbidden(const char* resource, const ApiError& error, bool listing, bool& logged) {
  {
    std::lock_guard lock(mutex_);
    ++stats_.errors;
    ++stats_.errorsByReason["unauthorized"];
    stats_.lastError = std::string("forbidden: ") + (listing ? "list " : "watch ") + resource;
  }
  // One error, not one per retry: the fix is a change of RBAC, which a retry cannot make.
  if (!logged) {
    logged = true;
    spdlog::error("kube: the API server forbids {} {} to this agent's user ({}); grant it "
                  "(docs/security.md lists what the agent needs, `bpfproxy doctor --kubeconfig` checks it). "
                  "Asking again every {:g} s",
                  listing ? "list" : "watch", resource, error.what(),
                  std::chrono::duration<double>(forbiddenRetry_).count());
  }
}

void ApiHealth::setBackoff(std::chrono::milliseconds delay) {
  std::lock_guard lock(mutex_);
  stats_.backoff = delay;
}

void ApiHealth::countWatchRestart() {
  std::lock_guard lock(mutex_);
  ++stats_.watchRestarts;
}

void ApiHealth::countRelist() {
  std::lock_guard lock(mutex_);
  ++stats_.relists;
}

void ApiHealth::markSynced() {
  std::lock_guard lock(mutex_);
  stats_.synced = true;
}

}  // namespace bpfproxy::controller::kube
