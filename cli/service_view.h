#pragma once
// What `bpfproxy service list` and `backend list` show, built from the pinned maps alone so
// they work while the agent is down.
#include <cpprest/json.h>

#include <ostream>
#include <string>
#include <vector>

#include "maps/datapath_snapshot.h"

namespace bpfproxy::cli {

struct BackendView {
  uint32_t id = 0;
  std::string address;  // "10.200.0.2:8080"
  std::string state;    // "active", "terminating", "quarantined", "missing"
  bool local = false;
};

// One backend of the snapshot by id; state "missing" (address "?") when the id is gone.
BackendView backendView(uint32_t id, const maps::DatapathSnapshot& snapshot);
web::json::value backendViewJson(const BackendView& view);  // id, address, state, local

struct ServiceView {
  uint32_t id = 0;
  std::string namespace_, name, portName;
  std::string type;      // ClusterIP, NodePort, LoadBalancer, ExternalIP
  std::string frontend;  // "10.32.0.140:80"
  std::string protocol;  // TCP, UDP, SCTP
  std::vector<BackendView> backends;
};

struct ServiceFilter {
  std::string namespace_;
  std::string name;
  std::string vip;  // address only, or address:port
  bool matches(const ServiceView& view) const;
};

// One view per frontend; address-only (wildcard) entries are left out.
std::vector<ServiceView> serviceViews(const maps::DatapathSnapshot& snapshot);
void printServiceTable(const std::vector<ServiceView>& views, std::ostream& out);
web::json::value serviceJson(const std::vector<ServiceView>& views);

struct BackendListView {
  BackendView backend;
  std::string protocol;
  size_t services = 0;  // frontends that use it
};
std::vector<BackendListView> backendViews(const maps::DatapathSnapshot& snapshot);
void printBackendTable(const std::vector<BackendListView>& views, std::ostream& out);
web::json::value backendJson(const std::vector<BackendListView>& views);

}  // namespace bpfproxy::cli
