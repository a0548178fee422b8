// explain's output: a table of stages for people, JSON (and YAML) for scripts.
#include <ostream>

#include "cli/ops_views.h"
#include "cli/output.h"
#include "cli/service_view.h"
#include "cli/table.h"

namespace bpfproxy::cli {

namespace {

using web::json::value;

std::string backendText(uint32_t id, const maps::DatapathSnapshot& snapshot) {
  auto b = backendView(id, snapshot);
  return std::to_string(id) + " => " + b.address + " (" + b.state + (b.local ? ", local" : "") + ")";
}

value backendJson(uint32_t id, const maps::DatapathSnapshot& snapshot) {
  return backendViewJson(backendView(id, snapshot));
}

}  // namespace

value explainJson(const Explanation& e, const maps::DatapathSnapshot& snapshot) {
  auto root = value::object(true);
  root["destination"] = jsonString(e.frontendText);
  root["verdict"] = jsonString(e.verdict);
  if (!e.reason.empty()) root["reason"] = jsonString(e.reason);
  if (e.frontend) {
    auto frontend = value::object(true);
    frontend["id"] = value::number(e.frontend->value.svc_id);
    if (e.frontend->meta) {
      frontend["namespace"] = jsonString(e.frontend->meta->namespace_);
      frontend["name"] = jsonString(e.frontend->meta->name);
      frontend["port_name"] = jsonString(e.frontend->meta->port_name);
      frontend["type"] = jsonString(maps::frontendTypeName(e.frontend->meta->type));
    }
    frontend["frontend"] = jsonString(formatEndpoint(maps::addressOf(e.frontend->key.addr),
                                                     maps::hostPort(e.frontend->key.port)));
    frontend["protocol"] = jsonString(maps::protocolName(e.frontend->key.proto));
    frontend["flags"] = jsonStrings(e.frontendFlags);
    root["frontend"] = frontend;
  }
  auto stages = value::array();
  size_t i = 0;
  for (const auto& stage : e.stages) {
    auto s = value::object(true);
    s["stage"] = jsonString(stage.name);
    s["detail"] = jsonString(stage.detail);
    auto backends = value::array();
    size_t j = 0;
    for (uint32_t id : stage.backends) backends[j++] = backendJson(id, snapshot);
    s["backends"] = backends;
    stages[i++] = s;
  }
  root["stages"] = stages;
  if (!e.algorithm.empty()) root["algorithm"] = jsonString(e.algorithm);
  if (e.picked) root["picked"] = backendJson(*e.picked, snapshot);
  if (!e.pickDetail.empty()) root["pick"] = jsonString(e.pickDetail);
  auto conntrack = value::array();
  i = 0;
  for (const auto& hit : e.conntrack) {
    auto h = value::object(true);
    h["client"] = jsonString(hit.client);
    h["backend"] = backendJson(hit.backendId, snapshot);
    h["current"] = value::boolean(hit.current);
    conntrack[i++] = h;
  }
  root["conntrack"] = conntrack;
  root["udpStickySockets"] = value::number(static_cast<uint64_t>(e.udpStickySockets));
  root["notes"] = jsonStrings(e.notes);
  return root;
}

void printExplain(const Explanation& e, const maps::DatapathSnapshot& snapshot, std::ostream& out) {
  auto line = [&](const std::string& key, const std::string& text) {
    out << key << std::string(key.size() < 12 ? 12 - key.size() : 1, ' ') << text << "\n";
  };
  line("Flow:", e.frontendText);
  if (e.frontend) {
    std::string service = e.frontend->meta ? std::string(e.frontend->meta->namespace_) + "/" + e.frontend->meta->name : "?";
    if (e.frontend->meta && e.frontend->meta->port_name[0]) service += ":" + std::string(e.frontend->meta->port_name);
    std::string flags;
    for (const auto& flag : e.frontendFlags) flags += (flags.empty() ? "" : ", ") + flag;
    line("Frontend:", "id " + std::to_string(e.frontend->value.svc_id) + ", Service " + service + " [" + flags + "]");
  }
  line("Verdict:", e.verdict + (e.reason.empty() ? "" : " (" + e.reason + ")"));
  if (!e.stages.empty()) {
    out << "\n";
    Table table({"STAGE", "LEFT", "DETAIL", "BACKENDS"});
    for (const auto& stage : e.stages) {
      std::string backends;
      for (uint32_t id : stage.backends) backends += backendText(id, snapshot) + "\n";
      table.addRow({stage.name, std::to_string(stage.backends.size()), stage.detail, backends.empty() ? "-" : backends});
    }
    table.print(out);
    out << "\n";
  }
  if (!e.algorithm.empty()) line("Algorithm:", e.algorithm);
  if (e.picked) line("Picks:", backendText(*e.picked, snapshot) + ": " + e.pickDetail);
  else if (!e.pickDetail.empty()) line("Picks:", e.pickDetail);
  for (const auto& hit : e.conntrack)
    line("Conntrack:", hit.client + " -> " + backendText(hit.backendId, snapshot) +
                           (hit.current ? "" : " (backend gone: the next packet re-picks)"));
  if (e.udpStickySockets)
    line("UDP sticky:", std::to_string(e.udpStickySockets) + " sockets keep a backend of this Service");
  for (const auto& note : e.notes) line("Note:", note);
}

}  // namespace bpfproxy::cli
