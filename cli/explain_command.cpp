// `bpfproxy explain --src IP --dst VIP:PORT/PROTO`: what the datapath does with that flow,
// step by step. This file reads the maps and prints; explain_flow.cpp decides,
// explain_output.cpp renders.
#include <algorithm>
#include <iostream>
#include <map>
#include <memory>

#include "cli/commands.h"
#include "cli/datapath_access.h"
#include "cli/ops_views.h"
#include "cli/output.h"
#include "maps/conntrack_reader.h"
#include "maps/socket_states.h"
#include "maps/tc_maps.h"
#include "maps/map_names.h"
#include "maps/map_open.h"

namespace bpfproxy::cli {

void addExplainCommand(CLI::App& app, int& exitCode) {
  struct Flags {
    std::string pinDir = maps::kDefaultPinDir;
    std::string source, destination, output = "table";
    int sourcePort = 0;
  };
  auto flags = std::make_shared<Flags>();
  auto* cmd = app.add_subcommand("explain",
                                 "What the datapath does with a flow: frontend, backends after each filter, algorithm, "
                                 "the pick (exit 0 translated, 1 refused or dropped, 4 not a service)");
  cmd->add_option("--src", flags->source, "Client address")->required();
  cmd->add_option("--dst", flags->destination, "VIP:PORT/PROTO, like 10.32.0.10:53/udp or [fd00::1]:80/tcp")->required();
  cmd->add_option("--sport", flags->sourcePort, "Client port: look up this exact flow's conntrack entry");
  cmd->add_option("--pin-dir", flags->pinDir, "bpffs directory the agent pins to")->capture_default_str();
  addOutputFlag(*cmd, flags->output);
  cmd->callback([flags, &exitCode]() {
    FlowQuery query;
    auto source = IpAddress::parse(flags->source);
    if (!source) {
      std::cerr << "bpfproxy: --src: '" << flags->source << "' is not an IP address\n";
      exitCode = kExitUsage;
      return;
    }
    query.source = *source;
    if (!parseFlowDestination(flags->destination, query.destination, query.port, query.proto)) {
      std::cerr << "bpfproxy: --dst: '" << flags->destination << "' is not VIP:PORT/PROTO (like 10.32.0.10:53/udp)\n";
      exitCode = kExitUsage;
      return;
    }
    if (flags->sourcePort > 0 && flags->sourcePort <= 65535) query.sourcePort = static_cast<uint16_t>(flags->sourcePort);
    maps::DatapathMaps datapath;
    if (!openDatapath(flags->pinDir, datapath, exitCode)) return;
    auto snapshot = maps::readSnapshot(datapath);

    // The TC maps, when pinned and of this build's layout (checked against the table).
    // A map that does not open stays invalid and is skipped.
    auto tcMap = [&](auto map, const char* name) {
      (void)maps::openInto(map, flags->pinDir, name);
      return map;
    };
    auto lpm = tcMap(maps::LpmMap{}, maps::kLpmMap);
    auto nodeAddrs = tcMap(maps::NodeAddrMap{}, maps::kNodeAddrMap);
    ExplainExtras extras = readExplainExtras(lpm, nodeAddrs, snapshot, query);
    // The service each UDP sticky entry belongs to: counted for the frontend's svc_id.
    std::map<uint32_t, size_t> sticky;
    for (const auto& socket : maps::readSocketStates(datapath.sockets))
      maps::forEachStickyPeer(socket.state, [&](const bpx_sock_peer& peer) { sticky[peer.svc_id]++; });
    auto explanation = explainFlow(snapshot, query, extras);
    if (explanation.frontend) {
      explanation.udpStickySockets = sticky[explanation.frontend->value.svc_id];
      auto ct = tcMap(maps::ConntrackMap{}, maps::kConntrackMap);
      const auto& frontend = *explanation.frontend;
      if (ct.valid())
        for (const auto& flow : maps::readConntrack(ct)) {
          if (!flow.forward || flow.key.proto != query.proto || flow.key.dport != frontend.key.port ||
              flow.client.address != query.source || flow.frontend.address != query.destination)
            continue;
          if (query.sourcePort && flow.client.port != *query.sourcePort) continue;
          bool current = std::find(frontend.backendIds.begin(), frontend.backendIds.end(), flow.backendId) !=
                         frontend.backendIds.end();
          explanation.conntrack.push_back({flow.client.toString(), flow.backendId, current});
        }
      if (query.sourcePort && explanation.verdict == "translated") {
        for (const auto& hit : explanation.conntrack)
          if (hit.current) {
            explanation.picked = hit.backendId;
            explanation.pickDetail = "a conntrack entry of this flow is in force: its packets keep going to this backend";
          }
      }
    }
    if (!printStructured(explainJson(explanation, snapshot), flags->output, std::cout))
      printExplain(explanation, snapshot, std::cout);
    exitCode = explanation.verdict == "translated" ? kExitOk : explanation.verdict == "not a service" ? kExitNotAService : kExitFailure;
  });
}

}  // namespace bpfproxy::cli
