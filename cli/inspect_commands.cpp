// `bpfproxy service list` and `bpfproxy backend list`: read from the pinned maps only.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <iostream>
#include <memory>
#include <sstream>
#include <thread>

#include "cli/commands.h"
#include "cli/datapath_access.h"
#include "cli/duration.h"
#include "cli/output.h"
#include "cli/service_view.h"
#include "maps/map_names.h"

namespace bpfproxy::cli {

namespace {

struct InspectFlags {
  std::string pinDir = maps::kDefaultPinDir;
  std::string output = "table";
  ServiceFilter filter;
  bool watch = false;
  std::string interval = "1s";
  int watchLimit = 0;  // stop after this many updates (0: until interrupted); for scripts
};

std::atomic<bool> interrupted{false};

void addCommonFlags(CLI::App& cmd, InspectFlags& flags) {
  cmd.add_option("--pin-dir", flags.pinDir, "bpffs directory the agent pins to")->capture_default_str();
  addOutputFlag(cmd, flags.output);
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
  serviceList->add_flag("-w,--watch", serviceFlags->watch,
                        "Print again whenever the maps change (tables redraw; json/yaml print one document per change)");
  serviceList->add_option("--interval", serviceFlags->interval, "How often --watch reads the maps")
      ->capture_default_str();
  serviceList->add_option("--watch-limit", serviceFlags->watchLimit,
                          "With --watch: exit after this many updates (0: until interrupted)");
  serviceList->callback([serviceFlags, &exitCode]() {
    auto render = [&](std::string& text) {
      maps::DatapathSnapshot snapshot;
      if (!openSnapshot(serviceFlags->pinDir, snapshot, exitCode)) return false;
      std::vector<ServiceView> views;
      for (auto& view : serviceViews(snapshot))
        if (serviceFlags->filter.matches(view)) views.push_back(std::move(view));
      std::ostringstream out;
      if (serviceFlags->output == "json")
        out << serviceJson(views).serialize() << "\n";  // one line per document, for --watch
      else if (!printStructured(serviceJson(views), serviceFlags->output, out))
        printServiceTable(views, out);
      text = out.str();
      return true;
    };
    std::string text;
    if (!serviceFlags->watch) {
      if (render(text)) std::cout << text;
      return;
    }
    auto interval = parseDuration(serviceFlags->interval);
    if (!interval || interval->count() <= 0) {
      std::cerr << "bpfproxy: --interval: '" << serviceFlags->interval << "' is not a positive duration\n";
      exitCode = kExitUsage;
      return;
    }
    std::signal(SIGINT, [](int) { interrupted = true; });
    std::signal(SIGTERM, [](int) { interrupted = true; });
    const bool redraw = serviceFlags->output == "table" && isatty(STDOUT_FILENO);
    std::string last;
    int updates = 0;
    while (!interrupted) {
      if (!render(text)) return;  // the datapath went away: exit code says so
      if (text != last) {
        if (redraw) std::cout << "\033[H\033[2J";
        else if (serviceFlags->output == "table" && updates > 0) std::cout << "\n";
        std::cout << text << std::flush;
        last = text;
        if (++updates == serviceFlags->watchLimit) return;
      }
      for (auto waited = std::chrono::milliseconds(0); waited < *interval && !interrupted;
           waited += std::chrono::milliseconds(50))
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
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
    if (!printStructured(backendJson(views), backendFlags->output, std::cout)) printBackendTable(views, std::cout);
  });
}

}  // namespace bpfproxy::cli
