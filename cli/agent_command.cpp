// `bpfproxy agent`: the long-running service proxy.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <csignal>

#include "cli/tc_flags.h"
#include "cli/agent_ops.h"
#include "cli/agent_source.h"
#include "cli/commands.h"
#include "cli/duration.h"
#include "cli/logging.h"
#include "controller/model/input_checks.h"
#include "controller/model/lb_choice.h"
#include "controller/model/lb_table.h"
#include "controller/sync/agent.h"
#include "loader/system_paths.h"
#include "maps/map_names.h"

namespace bpfproxy::cli {

namespace {

std::atomic<bool> stopRequested{false};

void onSignal(int) { stopRequested = true; }

std::string hostName() {
  char name[256] = {};
  gethostname(name, sizeof(name) - 1);
  return name;
}

struct AgentFlags {
  SourceFlags source;
  std::string pinDir = maps::kDefaultPinDir;
  std::string cgroup;
  std::string nodeName;
  std::vector<std::string> serviceCidrs{"10.32.0.0/24"};
  std::string minSyncPeriod = "1s";
  uint32_t maxServices = BPX_DEFAULT_SERVICE_PORTS;
  uint32_t maxBackends = BPX_DEFAULT_BACKENDS;
  uint32_t maxConntrack = BPX_DEFAULT_CONNTRACK;
  uint32_t maxAffinity = BPX_DEFAULT_CLIENT_AFFINITY;
  bool destroyStaleTcpSockets = false;
  std::string algorithm = "random";
  uint32_t maglevTableSize = 0;
  uint32_t maxMetricsServices = controller::kDefaultMaxMetricsServices;
  LogFlags log;
  OpsFlags ops;  // --config, metrics and health ports
  TcFlags tc;    // per-packet datapath
};

// Turns flags into options; the error names the flag.
Status buildOptions(const AgentFlags& flags, controller::AgentOptions& options) {
  options.pinDir = flags.pinDir;
  if (flags.cgroup.empty()) {
    auto mount = loader::findCgroup2Mount();
    if (!mount) return Error{"--cgroup: no cgroup v2 mount found in /proc/self/mountinfo; give one"};
    options.cgroupPath = *mount;
  } else {
    options.cgroupPath = flags.cgroup;
  }
  options.nodeName = flags.nodeName.empty() ? hostName() : flags.nodeName;
  options.model.nodeName = options.nodeName;
  for (const auto& text : flags.serviceCidrs) {
    auto cidr = Cidr::parse(text);
    if (!cidr) return Error{"--service-cidr: '" + text + "' is not a CIDR (like 10.32.0.0/24)"};
    options.model.serviceCidrs.push_back(*cidr);
  }
  auto period = parseDuration(flags.minSyncPeriod);
  if (!period)
    return Error{"--min-sync-period: '" + flags.minSyncPeriod + "' is not a duration (like 1s or 500ms)"};
  options.minSyncPeriod = *period;
  for (const auto& [flag, entries] : {std::pair{"--max-services", flags.maxServices}, std::pair{"--max-backends", flags.maxBackends},
                                      std::pair{"--max-conntrack", flags.maxConntrack}, std::pair{"--max-affinity", flags.maxAffinity}})
    if (auto checked = controller::checkMapSize(flag, entries); !checked) return checked;
  options.mapSizes.servicePorts = flags.maxServices;
  options.mapSizes.backends = flags.maxBackends;
  options.mapSizes.conntrack = flags.maxConntrack;
  options.mapSizes.clientAffinity = flags.maxAffinity;
  options.destroyTcpSockets = flags.destroyStaleTcpSockets;
  auto algorithm = controller::parseLbAlgorithm(flags.algorithm);
  if (!algorithm)
    return Error{"--algorithm: '" + flags.algorithm + "' is not one of: random, maglev, round-robin"};
  options.model.defaultAlgorithm = *algorithm;
  if (flags.maglevTableSize && (!controller::isPrime(flags.maglevTableSize) || flags.maglevTableSize > 65521))
    return Error{"--maglev-table-size: " + std::to_string(flags.maglevTableSize) +
                 " is not a prime up to 65521 (Maglev needs a prime; 0 chooses one per Service)"};
  options.model.maglevTableSize = flags.maglevTableSize;
  options.maxMetricsServices = flags.maxMetricsServices;
  return buildTcOptions(flags.tc, options);
}

}  // namespace

void addAgentCommand(CLI::App& app, int& exitCode) {
  auto flags = std::make_shared<AgentFlags>();
  auto* cmd = app.add_subcommand("agent", "Run the service proxy: program the datapath and keep it in step");
  addSourceFlags(*cmd, flags->source);
  cmd->add_option("--pin-dir", flags->pinDir, "bpffs directory for pinned maps and links")
      ->capture_default_str();
  cmd->add_option("--cgroup", flags->cgroup,
                  "cgroup v2 directory the socket hooks attach to (default: the cgroup v2 root)");
  // --hostname-override is kube-proxy's name for it: kubeadm's DaemonSet passes it.
  cmd->add_option("--node-name,--hostname-override", flags->nodeName, "This node's name (default: the hostname)");
  cmd->add_option("--service-cidr", flags->serviceCidrs, "Service CIDRs, comma-separated")
      ->delimiter(',')->capture_default_str();
  cmd->add_flag("--destroy-stale-tcp-sockets", flags->destroyStaleTcpSockets,
                "Also destroy TCP sockets connected to a removed backend (UDP ones always are)");
  cmd->add_option("--min-sync-period", flags->minSyncPeriod,
                  "Least time between syncs, batching changes (0: apply each change at once)")
      ->capture_default_str();
  cmd->add_option("--max-services", flags->maxServices, "Capacity of the service-port maps")
      ->capture_default_str();
  cmd->add_option("--max-backends", flags->maxBackends, "Capacity of the backend maps")
      ->capture_default_str();
  cmd->add_option("--max-conntrack", flags->maxConntrack,
                  "Flows the per-packet datapath tracks (used only with --devices or --pod-devices)")
      ->capture_default_str();
  cmd->add_option("--max-affinity", flags->maxAffinity,
                  "sessionAffinity ClientIP entries (client, Service); the oldest are evicted beyond it")
      ->capture_default_str();
  cmd->add_option("--algorithm", flags->algorithm,
                  "How new flows pick a backend, unless a Service's bpfproxy.io/lb-algorithm says: "
                  "random, maglev or round-robin")
      ->capture_default_str();
  cmd->add_option("--maglev-table-size", flags->maglevTableSize,
                  "Maglev's table size, a prime (0: per Service, a prime at least 100 times its backends)")
      ->capture_default_str();
  cmd->add_option("--max-metrics-services", flags->maxMetricsServices,
                  "Services annotated bpfproxy.io/metrics counted per backend at most; the rest are refused "
                  "with a warning (bpfproxy_services_metrics_refused)")
      ->capture_default_str();
  addLogFlags(*cmd, flags->log);
  addOpsFlags(*cmd, flags->ops);
  addTcFlags(*cmd, flags->tc);

  cmd->callback([flags, cmd, &exitCode]() {
    auto configLoaded = loadConfigFile(*cmd, flags->ops);  // before logging: it may set the format
    setUpLogging(flags->log);
    for (const auto& warning : flags->ops.config.warnings) spdlog::warn("{}", warning);
    if (!configLoaded) {
      spdlog::error("{}", configLoaded.error().message);
      exitCode = kExitUsage;
      return;
    }
    controller::AgentOptions options;
    if (auto built = buildOptions(*flags, options); !built) {
      spdlog::error("{}", built.error().message);
      exitCode = kExitUsage;
      return;
    }
    std::string sourceError;
    std::shared_ptr<controller::Source> source = makeSource(flags->source, options.nodeName, !options.tc.podDeviceGlobs.empty(), sourceError);
    if (!source) {
      spdlog::error("{}", sourceError);
      exitCode = kExitUsage;
      return;
    }
    // The agent reaches the API server through the kubernetes Service when in cluster.
    if (flags->source.usesKubernetesApi()) options.protectedService = controller::ServiceKey{"default", "kubernetes"};
    std::signal(SIGTERM, onSignal);
    std::signal(SIGINT, onSignal);
    AgentOps ops(flags->ops, options, *cmd);
    if (auto started = ops.start(sourceCountersOf(source)); !started) {
      spdlog::error("{}", started.error().message);
      exitCode = kExitUsage;
      return;
    }
    try {  // caught here so the stack unwinds: the agent's guards stop the source first
      exitCode = controller::runAgent(options, source, stopRequested, &ops);
    } catch (const std::exception& failure) {
      spdlog::critical("agent stopped: {}", failure.what());
      exitCode = 1;
    }
  });
}

}  // namespace bpfproxy::cli
