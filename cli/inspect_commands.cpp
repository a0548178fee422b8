// `bpfproxy service list` and `bpfproxy backend list`: read from the pinned maps only.
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/service_view.h"
#include "maps/map_names.h"

namespace bpfproxy::cli {

namespace {

struct InspectFlags {
  std::string pinDir = maps::kDefaultPinDir;
  std::string output = "table";
  ServiceFilter filter;
};

void addCommonFlags(CLI::App& cmd, InspectFlags& flags) {
  cmd.add_option("--pin-dir", flags.pinDir, "bpffs directory the agent pins to")->capture_default_str();
  cmd.add_option("-o,--output", flags.output, "table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
}

bool openSnapshot(const std::string& pinDir, maps::DatapathSnapshot& snapshot, int& exitCode) {
  maps::DatapathMaps datapath;
  std::string error;
  if (!datapath.open(pinDir, &error)) {
    std::cerr << "bpfproxy: " << error << "\n(is the agent running with --pin-dir " << pinDir << "?)\n";
    exitCode = kExitNotFound;
    return false;
  }
  snapshot = maps::readSnapshot(datapath);
  return true;
}

}  // namespace

void addInspectCommands(CLI::App& app, int& exitCode) {
  auto* service = app.add_subcommand("service", "Inspect programmed Services");
  service->require_subcommand(1);
  auto serviceFlags = std::make_shared<InspectFlags>();
  auto* serviceList = service->add_subcommand("list", "One row per frontend, with its backends");
  addCommonFlags(*serviceList, *serviceFlags);
  serviceList->add_option("-n,--namespace", serviceFlags->filter.namespace_, "Only this namespace");
  serviceList->add_option("--name", serviceFlags->filter.name, "Only Services of this name");
  serviceList->add_option("--vip", serviceFlags->filter.vip, "Only this frontend address (or address:port)");
  serviceList->callback([serviceFlags, &exitCode]() {
    maps::DatapathSnapshot snapshot;
    if (!openSnapshot(serviceFlags->pinDir, snapshot, exitCode)) return;
    std::vector<ServiceView> views;
    for (auto& view : serviceViews(snapshot))
      if (serviceFlags->filter.matches(view)) views.push_back(std::move(view));
    if (serviceFlags->output == "json")
      std::cout << serviceJson(views).serialize() << "\n";
    else
      printServiceTable(views, std::cout);
  });

  auto* backend = app.add_subcommand("backend", "Inspect programmed backends");
  backend->require_subcommand(1);
  auto backendFlags = std::make_shared<InspectFlags>();
  auto* backendList = backend->add_subcommand("list", "Every backend with its state");
  addCommonFlags(*backendList, *backendFlags);
  backendList->callback([backendFlags, &exitCode]() {
    maps::DatapathSnapshot snapshot;
    if (!openSnapshot(backendFlags->pinDir, snapshot, exitCode)) return;
    auto views = backendViews(snapshot);
    if (backendFlags->output == "json")
      std::cout << backendJson(views).serialize() << "\n";
    else
      printBackendTable(views, std::cout);
  });
}

}  // namespace bpfproxy::cli
