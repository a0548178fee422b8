// `bpfproxy takeover [--dry-run]`: removes what kube-proxy programmed on this node, as
// `kube-proxy --cleanup` does: its iptables chains in the legacy and nft back ends (and the
// rules elsewhere that jump to them), its nftables tables, its IPVS virtual servers, the
// kube-ipvs0 device and its ipsets. Prints each removal. Run once kube-proxy has stopped:
// a running kube-proxy programs them again.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/commands.h"
#include "cli/kube_proxy_state.h"
#include "cli/ops_views.h"
#include "cli/run_command.h"

namespace bpfproxy::cli {

namespace {

struct Takeover {
  bool dryRun = false;
  size_t removed = 0;
  std::vector<std::string> errors;

  void report(const std::string& what) {
    std::cout << (dryRun ? "would remove: " : "removed: ") << what << "\n";
    ++removed;
  }
  // Runs a change unless --dry-run; a failure is kept, the rest goes on.
  bool change(const std::string& command, const std::optional<std::string>& input = std::nullopt) {
    if (dryRun) return true;
    auto result = runCommand(command, input, true);
    if (result.status == 0) return true;
    errors.push_back(command + " exited " + std::to_string(result.status) + ": " + result.output);
    return false;
  }
};

void takeOverIptables(Takeover& takeover) {
  for (const char* family : {"iptables", "ip6tables"}) {
    for (const char* backend : {"legacy", "nft"}) {
      const std::string tool = std::string(family) + "-" + backend;
      auto save = readCommand(tool + "-save");
      if (!save) {
        std::cout << "skipped: " << tool << "-save is not installed\n";
        continue;
      }
      auto plan = planIptablesRemoval(*save);
      if (plan.restoreInput.empty()) continue;
      // One iptables-restore per back end: each table's changes apply at once.
      if (!takeover.change(tool + "-restore --noflush --wait", plan.restoreInput)) continue;
      for (const auto& action : plan.actions) takeover.report(tool + " " + action);
    }
  }
}

void takeOverNftables(Takeover& takeover) {
  auto tables = readCommand("nft list tables");
  if (!tables) {
    std::cout << "skipped: nft is not installed\n";
    return;
  }
  for (const auto& table : kubeProxyNftTables(*tables))
    if (takeover.change("nft delete table " + table)) takeover.report("nftables table " + table);
}

void takeOverIpvs(Takeover& takeover) {
  std::ifstream in("/proc/net/ip_vs");
  std::stringstream text;
  text << in.rdbuf();
  if (size_t servers = ipvsVirtualServers(text.str()); servers > 0) {
    // kube-proxy --cleanup flushes every virtual server too: in IPVS mode they are all its.
    if (!readCommand("ipvsadm --version")) {
      takeover.errors.push_back(std::to_string(servers) + " IPVS virtual servers remain: ipvsadm is not installed");
    } else if (takeover.change("ipvsadm --clear")) {
      takeover.report("IPVS: " + std::to_string(servers) + " virtual servers");
    }
  }
  std::error_code ec;
  if (std::filesystem::exists("/sys/class/net/kube-ipvs0", ec) && takeover.change("ip link delete kube-ipvs0"))
    takeover.report("IPVS dummy device kube-ipvs0");
  if (auto sets = readCommand("ipset list -n")) {
    std::istringstream names(*sets);
    for (std::string name; std::getline(names, name);)
      if (name.rfind("KUBE-", 0) == 0 && takeover.change("ipset destroy " + name)) takeover.report("ipset " + name);
  }
}

}  // namespace

void addTakeoverCommand(CLI::App& app, int& exitCode) {
  auto dryRun = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand(
      "takeover", "Remove what kube-proxy programmed on this node (iptables, nftables, IPVS), as kube-proxy --cleanup");
  cmd->add_flag("--dry-run", *dryRun, "Print what would be removed; change nothing");
  cmd->callback([dryRun, &exitCode]() {
    Takeover takeover;
    takeover.dryRun = *dryRun;
    takeOverIptables(takeover);
    takeOverNftables(takeover);
    takeOverIpvs(takeover);
    for (const auto& error : takeover.errors) std::cerr << "bpfproxy: takeover: " << error << "\n";
    std::cout << (takeover.removed == 0 ? "nothing of kube-proxy's found"
                                        : std::to_string(takeover.removed) +
                                              (takeover.dryRun ? " removals planned" : " removed"))
              << (takeover.errors.empty() ? "" : ", " + std::to_string(takeover.errors.size()) + " failed") << "\n";
    exitCode = takeover.errors.empty() ? kExitOk : kExitFailure;
  });
}

}  // namespace bpfproxy::cli
