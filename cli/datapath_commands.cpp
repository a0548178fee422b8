// `bpfproxy conntrack list|flush`, `affinity list` and `maglev show SERVICE`: the datapath's
// per-flow state and its selection table, read from the pinned maps.
#include <algorithm>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>

#include "bpf/maps_abi.h"
#include "cli/commands.h"
#include "cli/lb_explain.h"
#include "controller/model/lb_choice.h"
#include "cli/datapath_access.h"
#include "cli/ops_views.h"
#include "cli/output.h"
#include "cli/service_view.h"
#include "cli/table.h"
#include "maps/affinity_reader.h"
#include "maps/conntrack_reader.h"
#include "maps/socket_states.h"
#include "maps/map_names.h"

namespace bpfproxy::cli {

namespace {

using web::json::value;

struct Flags {
  std::string pinDir = maps::kDefaultPinDir;
  std::string output = "table";
  std::string frontend;  // filter: VIP or VIP:PORT
  std::string backend;   // filter: backend IP or IP:PORT
  std::string service;   // NAMESPACE/NAME
};

void addPinDir(CLI::App& cmd, Flags& flags) {
  cmd.add_option("--pin-dir", flags.pinDir, "bpffs directory the agent pins to")->capture_default_str();
}

bool endpointMatches(const std::string& filter, const std::string& endpoint) {
  return filter.empty() || endpoint == filter || endpoint.rfind(filter + ":", 0) == 0 ||
         endpoint.rfind("[" + filter + "]:", 0) == 0;
}

std::string serviceName(uint32_t svcId, const maps::DatapathSnapshot& snapshot) {
  for (const auto& frontend : snapshot.frontends)
    if (frontend.value.svc_id == svcId && frontend.meta)
      return std::string(frontend.meta->namespace_) + "/" + frontend.meta->name;
  return "id " + std::to_string(svcId) + " (gone)";
}

std::string backendAddress(uint32_t id, const maps::DatapathSnapshot& snapshot) {
  auto backend = backendView(id, snapshot);
  return backend.state == "missing" ? "id " + std::to_string(id) + " (gone)" : backend.address;
}

struct ConntrackRow {
  maps::ConntrackFlow flow;
  std::string client, frontend, backend, snat, direction, service;
};

std::vector<ConntrackRow> conntrackRows(const maps::ConntrackMap& ct, const maps::DatapathSnapshot& snapshot,
                                        const Flags& flags) {
  std::vector<ConntrackRow> rows;
  for (auto& flow : maps::readConntrack(ct)) {
    ConntrackRow row;
    row.direction = flow.forward ? "forward" : "reply";
    row.client = flow.client.toString();
    row.frontend = flow.frontend.toString();
    row.backend = flow.backend ? flow.backend->toString() : backendAddress(flow.backendId, snapshot);
    if (flow.forward) row.service = serviceName(flow.svcId, snapshot);
    if (flow.snat) row.snat = flow.snat->toString();
    row.flow = std::move(flow);
    if (endpointMatches(flags.frontend, row.frontend) && endpointMatches(flags.backend, row.backend))
      rows.push_back(std::move(row));
  }
  std::sort(rows.begin(), rows.end(), [](const ConntrackRow& a, const ConntrackRow& b) {
    return std::tie(a.frontend, a.client, a.direction) < std::tie(b.frontend, b.client, b.direction);
  });
  return rows;
}

}  // namespace

void addDatapathCommands(CLI::App& app, int& exitCode) {
  // ---- conntrack ----
  auto* conntrack = app.add_subcommand("conntrack", "The per-packet datapath's connection tracking table");
  conntrack->require_subcommand(1);
  auto ctFlags = std::make_shared<Flags>();
  auto* ctList = conntrack->add_subcommand(
      "list", "Every tracked flow: client, frontend, backend, SNAT (exit 3 when the datapath has no conntrack)");
  auto* ctFlush = conntrack->add_subcommand(
      "flush", "Delete tracked flows (all, or those of --frontend / --backend); their next packet picks again");
  for (auto* cmd : {ctList, ctFlush}) {
    addPinDir(*cmd, *ctFlags);
    cmd->add_option("--frontend", ctFlags->frontend, "Only flows to this frontend (VIP or VIP:PORT)");
    cmd->add_option("--backend", ctFlags->backend, "Only flows to this backend (IP or IP:PORT)");
  }
  addOutputFlag(*ctList, ctFlags->output);
  auto conntrackCallback = [ctFlags, &exitCode](bool flush) {
    maps::DatapathSnapshot snapshot;
    if (!openSnapshot(ctFlags->pinDir, snapshot, exitCode)) return;
    auto ct = openOptionalMap<maps::ConntrackMap>(ctFlags->pinDir, maps::kConntrackMap, "conntrack", exitCode);
    if (!ct.valid()) return;
    auto rows = conntrackRows(ct, snapshot, *ctFlags);
    if (flush) {
      size_t deleted = 0;
      for (const auto& row : rows)
        if (ct.erase(row.flow.key) == 0) deleted++;
      std::cout << "deleted " << deleted << " conntrack entries (" << deleted << " of " << rows.size() << " matched)\n";
      exitCode = deleted == rows.size() ? kExitOk : kExitFailure;
      return;
    }
    auto array = value::array();
    size_t i = 0;
    Table table({"DIRECTION", "PROTO", "CLIENT", "FRONTEND", "BACKEND", "SNAT", "SERVICE"});
    for (const auto& row : rows) {
      auto item = value::object(true);
      item["direction"] = jsonString(row.direction);
      item["protocol"] = jsonString(maps::protocolName(row.flow.key.proto));
      item["client"] = jsonString(row.client);
      item["frontend"] = jsonString(row.frontend);
      item["backend"] = jsonString(row.backend);
      item["snat"] = jsonString(row.snat);
      item["service"] = jsonString(row.service);
      array[i++] = item;
      table.addRow({row.direction, maps::protocolName(row.flow.key.proto), row.client, row.frontend, row.backend,
                    row.snat.empty() ? "-" : row.snat, row.service.empty() ? "-" : row.service});
    }
    if (!printStructured(array, ctFlags->output, std::cout)) table.print(std::cout);
  };
  ctList->callback([conntrackCallback]() { conntrackCallback(false); });
  ctFlush->callback([conntrackCallback]() { conntrackCallback(true); });

  // ---- affinity ----
  auto* affinity = app.add_subcommand("affinity", "Backends the datapath keeps for a client");
  affinity->require_subcommand(1);
  auto affFlags = std::make_shared<Flags>();
  auto* affList = affinity->add_subcommand(
      "list",
      "sessionAffinity ClientIP entries (a client is a pod's network namespace) and UDP socket stickiness "
      "(each unconnected UDP socket keeps its first backend per Service)");
  addPinDir(*affList, *affFlags);
  affList->add_option("--service", affFlags->service, "Only this Service (NAMESPACE/NAME)");
  addOutputFlag(*affList, affFlags->output);
  affList->callback([affFlags, &exitCode]() {
    maps::DatapathMaps datapath;
    if (!openDatapath(affFlags->pinDir, datapath, exitCode)) return;
    auto snapshot = maps::readSnapshot(datapath);
    std::map<uint32_t, const maps::SnapshotFrontend*> frontends;  // by svc_id
    for (const auto& frontend : snapshot.frontends) frontends[frontend.value.svc_id] = &frontend;
    const int64_t nowNs = maps::monotonicNowNs();
    struct Row {
      std::string kind;
      std::string client;  // an address for client-ip (or netns:<cookie>), a socket cookie for udp-socket
      uint32_t svcId, backendId;
      bool current;
      std::string state;
    };
    std::vector<Row> rows;
    for (const auto& entry : maps::readClientAffinity(datapath.clientAffinity)) {
      auto it = frontends.find(entry.svcId);
      int64_t timeoutNs = it == frontends.end() ? 0 : int64_t(it->second->value.affinity_timeout) * 1000000000;
      int64_t left = int64_t(entry.lastUsedNs) + timeoutNs - nowNs;
      rows.push_back({"client-ip", entry.client, entry.svcId, entry.backendId, left > 0,
                      left > 0 ? "expires in " + std::to_string(left / 1000000000) + "s" : "expired"});
    }
    // Per-socket state lives with each socket: read through the sockets processes hold.
    for (const auto& socket : maps::readSocketStates(datapath.sockets))
      maps::forEachStickyPeer(socket.state, [&](const bpx_sock_peer& peer) {
        auto it = frontends.find(peer.svc_id);
        bool current = it != frontends.end() && it->second->value.generation == peer.generation;
        rows.push_back({"udp-socket", std::to_string(socket.cookie), peer.svc_id, peer.backend_id, current,
                        current ? "current" : "re-checked on the next send"});
      });
    std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
      return std::tie(a.svcId, a.kind, a.client) < std::tie(b.svcId, b.kind, b.client);
    });
    auto array = value::array();
    size_t i = 0;
    Table table({"KIND", "CLIENT", "SERVICE", "BACKEND", "STATE"});
    for (const auto& row : rows) {
      auto service = serviceName(row.svcId, snapshot);
      if (!affFlags->service.empty() && service != affFlags->service) continue;
      auto item = value::object(true);
      item["kind"] = jsonString(row.kind);
      // The client: an address (or netns:<cookie>) for client-ip, a socket cookie for udp-socket.
      if (row.kind == "client-ip") item["client"] = jsonString(row.client);
      else item["cookie"] = value::number(static_cast<uint64_t>(std::stoull(row.client)));
      item["service"] = jsonString(service);
      item["svc_id"] = value::number(row.svcId);
      item["backend"] = jsonString(backendAddress(row.backendId, snapshot));
      item["current"] = value::boolean(row.current);
      array[i++] = item;
      table.addRow({row.kind, row.client, service, backendAddress(row.backendId, snapshot),
                    row.state});
    }
    if (!printStructured(array, affFlags->output, std::cout)) table.print(std::cout);
  });

  // ---- maglev ----
  auto* maglev = app.add_subcommand("maglev", "The backend selection table of a Service");
  maglev->require_subcommand(1);
  auto mgFlags = std::make_shared<Flags>();
  auto* mgShow = maglev->add_subcommand(
      "show",
      "The selection table the datapath uses for SERVICE (NAMESPACE/NAME), per frontend: the backends, each one's "
      "share of the table, and the table itself (Maglev's, or backends repeated by weight; without a table a new "
      "flow picks among the backends) (exit 3 when the Service is not programmed)");
  mgShow->add_option("SERVICE", mgFlags->service, "NAMESPACE/NAME")->required();
  addPinDir(*mgShow, *mgFlags);
  addOutputFlag(*mgShow, mgFlags->output);
  mgShow->callback([mgFlags, &exitCode]() {
    maps::DatapathSnapshot snapshot;
    if (!openSnapshot(mgFlags->pinDir, snapshot, exitCode)) return;
    auto slash = mgFlags->service.find('/');
    std::string namespace_ = slash == std::string::npos ? "default" : mgFlags->service.substr(0, slash);
    std::string name = slash == std::string::npos ? mgFlags->service : mgFlags->service.substr(slash + 1);
    auto array = value::array();
    size_t i = 0;
    std::ostringstream text;
    for (const auto& view : serviceViews(snapshot)) {
      if (view.namespace_ != namespace_ || view.name != name) continue;
      const maps::SnapshotFrontend* frontend = nullptr;
      for (const auto& f : snapshot.frontends)
        if (f.value.svc_id == view.id) frontend = &f;
      if (!frontend) continue;
      const auto& positions = lbPositions(*frontend);
      std::map<uint32_t, size_t> share;
      for (uint32_t id : positions) share[id]++;
      uint32_t bank = frontend->value.generation & 1;
      const std::string algorithm = controller::lbAlgorithmName(frontend->value.algorithm);
      auto item = value::object(true);
      item["frontend"] = jsonString(view.frontend);
      item["protocol"] = jsonString(view.protocol);
      item["algorithm"] = jsonString(algorithm);
      item["bank"] = value::number(bank);
      item["generation"] = value::number(frontend->value.generation);
      item["table_size"] = value::number(static_cast<uint32_t>(frontend->value.table_size));
      auto slots = value::array();
      Table backends({"SLOT", "BACKEND", "STATE", "POSITIONS", "SHARE"});
      for (size_t slot = 0; slot < view.backends.size(); ++slot) {
        const auto& b = view.backends[slot];
        auto s = value::object(true);
        s["slot"] = value::number(static_cast<uint64_t>(slot));
        s["backend_id"] = value::number(b.id);
        s["address"] = jsonString(b.address);
        s["state"] = jsonString(b.state);
        s["positions"] = value::number(static_cast<uint64_t>(share[b.id]));
        slots[slot] = s;
        backends.addRow({std::to_string(slot), std::to_string(b.id) + " => " + b.address, b.state,
                         std::to_string(share[b.id]), std::to_string(share[b.id]) + "/" + std::to_string(positions.size())});
      }
      item["slots"] = slots;
      auto table = value::array();
      for (size_t p = 0; p < frontend->tableIds.size(); ++p) table[p] = value::number(frontend->tableIds[p]);
      item["table"] = table;
      array[i++] = item;

      text << view.frontend << " " << view.protocol << ": " << algorithm << ", bank " << bank << ", generation "
           << frontend->value.generation << ", ";
      if (frontend->value.table_size)
        text << "a table of " << frontend->value.table_size << " positions (slots " << view.backends.size() << ".."
             << view.backends.size() + frontend->value.table_size - 1 << ")\n";
      else
        text << (view.backends.empty() ? "no backend: connections refused\n" : "no table: new flows pick among the backends\n");
      if (!view.backends.empty()) backends.print(text);
      if (!frontend->tableIds.empty()) {
        Table rows({"POSITION", "BACKEND IDS"});
        for (size_t p = 0; p < frontend->tableIds.size(); p += 16) {
          std::string ids;
          for (size_t q = p; q < std::min(p + 16, frontend->tableIds.size()); ++q)
            ids += (q == p ? "" : " ") + std::to_string(frontend->tableIds[q]);
          rows.addRow({std::to_string(p), ids});
        }
        rows.print(text);
      }
      text << "\n";
    }
    if (i == 0) {
      std::cerr << "bpfproxy: Service " << namespace_ << "/" << name << " is not programmed in " << mgFlags->pinDir
                << "\n";
      exitCode = kExitNotFound;
      return;
    }
    if (!printStructured(array, mgFlags->output, std::cout)) std::cout << text.str();
  });
}

}  // namespace bpfproxy::cli

namespace bpfproxy::cli {

void addOperabilityCommands(CLI::App& app, int& exitCode) {
  addStatusCommand(app, exitCode);
  addCapacityCommand(app, exitCode);
  addDoctorCommand(app, exitCode);
  addExplainCommand(app, exitCode);
  addDatapathCommands(app, exitCode);
}

}  // namespace bpfproxy::cli
