// `bpfproxy capacity --services S --endpoints E`: would that fit the maps, and what would
// it cost in kernel memory? Answered before a rollout, not by a full map at 3 a.m.
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include <cmath>
#include <iostream>
#include <memory>

#include "bpf/maps_abi.h"
#include "cli/commands.h"
#include "cli/ops_views.h"
#include "cli/output.h"
#include "cli/table.h"
#include "maps/map_fd.h"
#include "maps/map_names.h"
#include "maps/map_open.h"
#include "maps/map_table.h"
#include "maps/map_usage.h"

namespace bpfproxy::cli {

namespace {

using web::json::value;

std::string kib(uint64_t bytes) {
  if (bytes >= 10ull << 20) return std::to_string((bytes + (1 << 19)) >> 20) + " MiB";
  return std::to_string((bytes + 1023) / 1024) + " KiB";
}

}  // namespace

std::vector<MapShape> serviceMapShapes(uint32_t maxServices, uint32_t maxBackends) {
  maps::MapSizes sizes;
  sizes.servicePorts = maxServices;
  sizes.backends = maxBackends;
  std::vector<MapShape> shapes;
  for (const char* name : {maps::kServiceMap, maps::kServiceMetaMap, maps::kBackendMap, maps::kSlotMap}) {
    const auto& spec = *maps::findMapSpec(name);
    shapes.push_back({spec.name, spec.type, spec.keySize, spec.valueSize, maps::maxEntries(spec, sizes)});
  }
  return shapes;
}

CapacityPlan planCapacity(const CapacityRequest& request, const std::vector<MapShape>& shapes, unsigned cpus) {
  const uint64_t families = request.dualStack ? 2 : 1;
  const uint64_t ports = std::max<uint64_t>(request.portsPerService, 1);
  // Per Service and family: one frontend per port (ClusterIP), one address-only entry that
  // refuses undefined ports, and with NodePorts one more frontend per port.
  const uint64_t frontends = request.services * families * (ports * (request.nodePorts ? 2 : 1) + 1);
  // Each endpoint is one backend per port (ip:port); every frontend of the port lists it.
  const uint64_t backends = request.endpoints * ports;
  // Slots: each frontend lists its port's backends; an update writes the other bank first.
  const uint64_t slots = request.endpoints * ports * families * (request.nodePorts ? 2 : 1) * 2;
  CapacityPlan plan;
  for (const auto& shape : shapes) {
    CapacityRow row;
    row.map = shape.name;
    row.capacity = shape.maxEntries;
    if (shape.name == maps::kServiceMap || shape.name == maps::kServiceMetaMap) row.needed = frontends;
    else if (shape.name == maps::kBackendMap) row.needed = backends;
    else if (shape.name == maps::kSlotMap) row.needed = slots;
    row.fits = row.needed <= row.capacity;
    row.bytesNeeded = maps::estimateMapBytes(shape.type, shape.keySize, shape.valueSize, row.needed, cpus);
    row.bytesWhenFull = maps::estimateMapBytes(shape.type, shape.keySize, shape.valueSize, shape.maxEntries, cpus);
    plan.fits = plan.fits && row.fits;
    plan.bytesNeeded += row.bytesNeeded;
    plan.bytesWhenFull += row.bytesWhenFull;
    const auto* spec = maps::findMapSpec(shape.name);
    std::string flag = spec && spec->flag ? spec->flag : "--max-services";
    if (!row.fits)
      plan.notes.push_back("map " + row.map + " full (" + std::to_string(row.needed) + "/" +
                           std::to_string(row.capacity) + "): raise " + flag + " (bpfproxy.mapSizes in --config)");
    else if (row.capacity && row.needed * 10 >= row.capacity * 8)
      plan.notes.push_back("map " + row.map + " would be " +
                           std::to_string(static_cast<unsigned>(100.0 * row.needed / row.capacity)) +
                           "% full: leave room for growth with " + flag);
    plan.rows.push_back(row);
  }
  return plan;
}

value capacityJson(const CapacityRequest& request, const CapacityPlan& plan) {
  auto root = value::object(true);
  auto req = value::object(true);
  req["services"] = value::number(request.services);
  req["endpoints"] = value::number(request.endpoints);
  req["portsPerService"] = value::number(request.portsPerService);
  req["dualStack"] = value::boolean(request.dualStack);
  req["nodePorts"] = value::boolean(request.nodePorts);
  root["request"] = req;
  root["fits"] = value::boolean(plan.fits);
  auto rows = value::array();
  size_t i = 0;
  for (const auto& row : plan.rows) {
    auto r = value::object(true);
    r["map"] = jsonString(row.map);
    r["needed"] = value::number(row.needed);
    r["capacity"] = value::number(row.capacity);
    r["fits"] = value::boolean(row.fits);
    r["bytesNeeded"] = value::number(row.bytesNeeded);
    r["bytesWhenFull"] = value::number(row.bytesWhenFull);
    rows[i++] = r;
  }
  root["maps"] = rows;
  root["bytesNeeded"] = value::number(plan.bytesNeeded);
  root["bytesWhenFull"] = value::number(plan.bytesWhenFull);
  root["notes"] = jsonStrings(plan.notes);
  return root;
}

void printCapacity(const CapacityPlan& plan, std::ostream& out) {
  Table table({"MAP", "NEEDED", "CAPACITY", "USED", "FITS", "MEMORY NEEDED", "MEMORY WHEN FULL"});
  for (const auto& row : plan.rows)
    table.addRow({row.map, std::to_string(row.needed), std::to_string(row.capacity),
                  row.capacity ? std::to_string(static_cast<unsigned>(std::ceil(100.0 * row.needed / row.capacity))) + "%" : "-",
                  row.fits ? "yes" : "NO", kib(row.bytesNeeded), kib(row.bytesWhenFull)});
  table.addRow({"total", "", "", "", plan.fits ? "yes" : "NO", kib(plan.bytesNeeded), kib(plan.bytesWhenFull)});
  table.print(out);
  for (const auto& note : plan.notes) out << "note: " << note << "\n";
}

void addCapacityCommand(CLI::App& app, int& exitCode) {
  struct Flags {
    CapacityRequest request;
    std::string pinDir;
    uint32_t maxServices = BPX_DEFAULT_SERVICE_PORTS;
    uint32_t maxBackends = BPX_DEFAULT_BACKENDS;
    std::string output = "table";
  };
  auto flags = std::make_shared<Flags>();
  auto* cmd = app.add_subcommand("capacity",
                                 "Would S Services with E endpoints fit the maps, and how much kernel memory would "
                                 "they take? (exit 0 fits, 1 does not)");
  cmd->add_option("--services", flags->request.services, "Services")->required();
  cmd->add_option("--endpoints", flags->request.endpoints, "Endpoints over all Services")->required();
  cmd->add_option("--ports", flags->request.portsPerService, "Ports per Service")->capture_default_str();
  cmd->add_flag("--dual-stack", flags->request.dualStack, "Every Service has an IPv4 and an IPv6 ClusterIP");
  cmd->add_flag("--nodeports", flags->request.nodePorts, "Every port is also a NodePort");
  cmd->add_option("--max-services", flags->maxServices, "Size of the service maps (as the agent's flag)")
      ->capture_default_str();
  cmd->add_option("--max-backends", flags->maxBackends, "Size of the backend maps (as the agent's flag)")
      ->capture_default_str();
  cmd->add_option("--pin-dir", flags->pinDir, "Take the sizes from the maps pinned here instead");
  addOutputFlag(*cmd, flags->output);
  cmd->callback([flags, &exitCode]() {
    auto shapes = serviceMapShapes(flags->maxServices, flags->maxBackends);
    if (!flags->pinDir.empty()) {
      for (auto& shape : shapes) {
        const maps::MapSpec* spec = maps::findMapSpec(shape.name);
        auto pinned = spec ? maps::inspectPinnedMap(flags->pinDir, *spec)
                           : Result<maps::MapFd::Info>(Error{std::string("no map ") + shape.name + " in the table"});
        if (!pinned) {
          std::cerr << "bpfproxy: " << pinned.error().message << "\n";
          exitCode = kExitNotFound;
          return;
        }
        shape.maxEntries = pinned->maxEntries;
      }
    }
    int cpus = libbpf_num_possible_cpus();
    auto plan = planCapacity(flags->request, shapes, cpus > 0 ? static_cast<unsigned>(cpus) : 1);
    if (!printStructured(capacityJson(flags->request, plan), flags->output, std::cout)) printCapacity(plan, std::cout);
    exitCode = plan.fits ? kExitOk : kExitFailure;
  });
}

}  // namespace bpfproxy::cli
