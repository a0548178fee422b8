#include "cli/service_view.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "cli/table.h"

namespace bpfproxy::cli {

namespace {

utility::string_t text(const std::string& value) { return utility::conversions::to_string_t(value); }

}  // namespace

BackendView backendView(uint32_t id, const maps::DatapathSnapshot& snapshot) {
  auto it = snapshot.backends.find(id);
  if (it == snapshot.backends.end()) return {id, "?", "missing", false};
  const auto& b = it->second;
  return {id, formatEndpoint(maps::addressOf(b.addr), maps::hostPort(b.port)),
          maps::backendStateName(b.state), (b.flags & BPX_BACKEND_F_LOCAL) != 0};
}

web::json::value backendViewJson(const BackendView& view) {
  auto backend = web::json::value::object(true);
  backend["id"] = web::json::value::number(view.id);
  backend["address"] = web::json::value::string(text(view.address));
  backend["state"] = web::json::value::string(text(view.state));
  backend["local"] = web::json::value::boolean(view.local);
  return backend;
}

bool ServiceFilter::matches(const ServiceView& view) const {
  if (!namespace_.empty() && view.namespace_ != namespace_) return false;
  if (!name.empty() && view.name != name) return false;
  if (!vip.empty() && view.frontend != vip && view.frontend.rfind(vip + ":", 0) != 0 &&
      view.frontend.rfind("[" + vip + "]:", 0) != 0)
    return false;
  return true;
}

std::vector<ServiceView> serviceViews(const maps::DatapathSnapshot& snapshot) {
  std::vector<ServiceView> views;
  for (const auto& frontend : snapshot.frontends) {
    if (frontend.value.flags & BPX_SVC_F_WILDCARD) continue;
    ServiceView view;
    view.id = frontend.value.svc_id;
    if (frontend.meta) {
      view.namespace_ = frontend.meta->namespace_;
      view.name = frontend.meta->name;
      view.portName = frontend.meta->port_name;
      view.type = maps::frontendTypeName(frontend.meta->type);
    }
    view.frontend = formatEndpoint(maps::addressOf(frontend.key.addr), maps::hostPort(frontend.key.port));
    if (frontend.key.scope == BPX_SVC_SCOPE_INTERNAL) view.frontend += " (in-cluster)";
    view.protocol = maps::protocolName(frontend.key.proto);
    for (uint32_t id : frontend.backendIds) view.backends.push_back(backendView(id, snapshot));
    views.push_back(std::move(view));
  }
  std::stable_sort(views.begin(), views.end(), [](const ServiceView& a, const ServiceView& b) {
    return std::tie(a.namespace_, a.name, a.frontend, a.protocol) <
           std::tie(b.namespace_, b.name, b.frontend, b.protocol);
  });
  return views;
}

void printServiceTable(const std::vector<ServiceView>& views, std::ostream& out) {
  Table table({"ID", "SERVICE", "TYPE", "FRONTEND", "PROTO", "BACKENDS"});
  for (const auto& view : views) {
    std::string backends;
    for (const auto& b : view.backends)
      backends += std::to_string(b.id) + " => " + b.address + " (" + b.state + ")\n";
    if (backends.empty()) backends = "(none: connections refused)";
    std::string service = view.namespace_ + "/" + view.name;
    if (!view.portName.empty()) service += ":" + view.portName;
    table.addRow({std::to_string(view.id), service, view.type, view.frontend, view.protocol, backends});
  }
  table.print(out);
}

web::json::value serviceJson(const std::vector<ServiceView>& views) {
  auto array = web::json::value::array();
  size_t i = 0;
  for (const auto& view : views) {
    auto object = web::json::value::object(true);
    object["id"] = web::json::value::number(view.id);
    object["namespace"] = web::json::value::string(text(view.namespace_));
    object["name"] = web::json::value::string(text(view.name));
    object["port_name"] = web::json::value::string(text(view.portName));
    object["type"] = web::json::value::string(text(view.type));
    object["frontend"] = web::json::value::string(text(view.frontend));
    object["protocol"] = web::json::value::string(text(view.protocol));
    auto backends = web::json::value::array();
    size_t j = 0;
    for (const auto& b : view.backends) backends[j++] = backendViewJson(b);
    object["backends"] = backends;
    array[i++] = object;
  }
  return array;
}

std::vector<BackendListView> backendViews(const maps::DatapathSnapshot& snapshot) {
  std::map<uint32_t, size_t> uses;
  for (const auto& frontend : snapshot.frontends)
    for (uint32_t id : frontend.backendIds) uses[id]++;
  std::vector<BackendListView> views;
  for (const auto& [id, backend] : snapshot.backends)
    views.push_back({backendView(id, snapshot), maps::protocolName(backend.proto), uses[id]});
  return views;
}

void printBackendTable(const std::vector<BackendListView>& views, std::ostream& out) {
  Table table({"ID", "ADDRESS", "PROTO", "STATE", "LOCAL", "FRONTENDS"});
  for (const auto& view : views)
    table.addRow({std::to_string(view.backend.id), view.backend.address, view.protocol,
                  view.backend.state, view.backend.local ? "yes" : "no",
                  std::to_string(view.services)});
  table.print(out);
}

web::json::value backendJson(const std::vector<BackendListView>& views) {
  auto array = web::json::value::array();
  size_t i = 0;
  for (const auto& view : views) {
    auto object = web::json::value::object(true);
    object["id"] = web::json::value::number(view.backend.id);
    object["address"] = web::json::value::string(text(view.backend.address));
    object["protocol"] = web::json::value::string(text(view.protocol));
    object["state"] = web::json::value::string(text(view.backend.state));
    object["local"] = web::json::value::boolean(view.backend.local);
    object["frontends"] = web::json::value::number(static_cast<uint64_t>(view.services));
    array[i++] = object;
  }
  return array;
}

}  // namespace bpfproxy::cli
