#pragma once
// How the API source's conversation with the API server goes: answers, errors by cause,
// the current backoff, restarts and relists. Written by the source's threads, read by
// metrics and health at any time.
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "controller/source/kube/api_client.h"

namespace bpfproxy::controller::kube {

struct KubeSourceStats {
  uint64_t watchRestarts = 0;  // watches re-opened after they ended or broke
  uint64_t relists = 0;        // lists after the first one of a resource (410 Gone)
  uint64_t errors = 0;         // failed requests and broken streams
  // The same errors by cause: unreachable, tls, unauthorized, watch_broken, server_error, other.
  std::map<std::string, uint64_t> errorsByReason;
  std::chrono::milliseconds backoff{0};  // the wait before the current retry; 0 when none
  std::optional<std::chrono::system_clock::time_point> lastContact;  // last answer received
  std::string lastError;       // empty once a request succeeded again
  bool synced = false;         // the first full view was delivered
};

// The cause of a failed request or broken stream, from its message: unreachable, tls,
// unauthorized, watch_broken, server_error or other (the label of bpfproxy_api_errors_total).
std::string apiErrorReason(const std::string& message);

class ApiHealth {
public:
  // forbiddenRetry: how often a forbidden request is asked again (said in its log line).
  explicit ApiHealth(std::chrono::milliseconds forbiddenRetry) : forbiddenRetry_(forbiddenRetry) {}

  KubeSourceStats stats() const;
  // The API server answered: the outage (if any) is over, logged once.
  void touch();
  // A failed request or broken stream of `kindName`s: counted by cause, logged once per cause.
  void noteError(const char* kindName, const std::string& message);
  // A 403 on `resource`: counted, logged when `logged` is false (each thread keeps its own).
  void noteForbidden(const char* resource, const ApiError& error, bool listing, bool& logged);
  void setBackoff(std::chrono::milliseconds delay);
  void countWatchRestart();
  void countRelist();
  void markSynced();

private:
  const std::chrono::milliseconds forbiddenRetry_;
  mutable std::mutex mutex_;
  KubeSourceStats stats_;
};

}  // namespace bpfproxy::controller::kube
