// `bpfproxy version` and `bpfproxy cleanup`.
#include <bpf/libbpf.h>

#include <iostream>
#include <memory>

#include "bpf/maps_abi.h"
#include "cli/commands.h"
#include "loader/socket_lb_loader.h"
#include "maps/map_names.h"

namespace bpfproxy::cli {

void addAdminCommands(CLI::App& app, int& exitCode) {
  auto* version = app.add_subcommand("version", "Print the version, map layout and libbpf version");
  version->callback([]() {
    std::cout << "bpfproxy " << BPFPROXY_VERSION << "\n"
              << "map layout v" << BPX_LAYOUT_VERSION << "\n"
              << "libbpf " << libbpf_major_version() << "." << libbpf_minor_version() << "\n";
  });

  struct CleanupFlags {
    std::string pinDir = maps::kDefaultPinDir;
    std::string cgroup;
  };
  auto flags = std::make_shared<CleanupFlags>();
  auto* cleanup = app.add_subcommand(
      "cleanup", "Detach every program and unpin every map: Services stop being translated");
  cleanup->add_option("--pin-dir", flags->pinDir, "bpffs directory the agent pinned to")
      ->capture_default_str();
  cleanup->add_option("--cgroup", flags->cgroup,
                      "cgroup the programs were attached to (links carry it; accepted for kube-proxy-style scripts)");
  cleanup->callback([flags, &exitCode]() {
    auto removed = loader::cleanupPins(flags->pinDir);
    if (removed.empty()) {
      std::cout << "nothing pinned under " << flags->pinDir << "\n";
      return;
    }
    for (const auto& line : removed) std::cout << line << "\n";
    exitCode = kExitOk;
  });
}

}  // namespace bpfproxy::cli
