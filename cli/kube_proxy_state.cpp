#include "cli/kube_proxy_state.h"

#include <algorithm>
#include <map>
#include <sstream>

namespace bpfproxy::cli {

namespace {

struct Rule {
  std::string text;    // as iptables-save prints it, without "-A CHAIN "
  std::string target;  // -j/-g chain or verdict
};

struct Chain {
  std::string name;
  bool builtIn = false;  // a policy (ACCEPT, DROP) instead of "-"
  std::vector<Rule> rules;
};

struct Table {
  std::string name;
  std::vector<Chain> chains;
  Chain* find(const std::string& chain) {
    for (auto& c : chains)
      if (c.name == chain) return &c;
    return nullptr;
  }
};

// Words of a rule, quotes kept together (comments hold spaces).
std::vector<std::string> words(const std::string& line) {
  std::vector<std::string> out;
  std::string word;
  bool quoted = false, any = false;
  for (char c : line) {
    if (c == '"') {
      quoted = !quoted;
      any = true;
    } else if (c == ' ' && !quoted) {
      if (any) out.push_back(word);
      word.clear();
      any = false;
    } else {
      word += c;
      any = true;
    }
  }
  if (any) out.push_back(word);
  return out;
}

std::vector<Table> parse(const std::string& save) {
  std::vector<Table> tables;
  std::istringstream in(save);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    if (line[0] == '*') {
      tables.push_back({line.substr(1), {}});
    } else if (line[0] == ':' && !tables.empty()) {
      auto parts = words(line.substr(1));
      if (!parts.empty()) tables.back().chains.push_back({parts[0], parts.size() > 1 && parts[1] != "-", {}});
    } else if (line.rfind("-A ", 0) == 0 && !tables.empty()) {
      auto parts = words(line);
      if (parts.size() < 2) continue;
      Rule rule;
      rule.text = line.substr(3 + parts[1].size());
      if (!rule.text.empty() && rule.text[0] == ' ') rule.text.erase(0, 1);
      for (size_t i = 2; i + 1 < parts.size(); ++i)
        if (parts[i] == "-j" || parts[i] == "-g" || parts[i] == "--jump" || parts[i] == "--goto") rule.target = parts[i + 1];
      if (Chain* chain = tables.back().find(parts[1])) chain->rules.push_back(rule);
    }
  }
  return tables;
}

// The chains of `table` that go away: kube-proxy's, but KUBE-MARK-MASQ while another user
// (an older kubelet, a CNI) still jumps to it.
std::set<std::string> removable(const Table& table) {
  std::set<std::string> chains;
  for (const auto& chain : table.chains)
    if (isKubeProxyChain(chain.name)) chains.insert(chain.name);
  for (const auto& chain : table.chains) {
    if (chains.count(chain.name)) continue;
    for (const auto& rule : chain.rules)
      if (rule.target == "KUBE-MARK-MASQ") chains.erase("KUBE-MARK-MASQ");
  }
  return chains;
}

}  // namespace

bool isKubeProxyChain(const std::string& chain) {
  static const std::set<std::string> fixed = {
      "KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-FORWARD",
      "KUBE-PROXY-FIREWALL", "KUBE-PROXY-CANARY", "KUBE-MARK-MASQ", "KUBE-LOAD-BALANCER", "KUBE-IPVS-FILTER",
      "KUBE-IPVS-OUT-FILTER", "KUBE-SOURCE-RANGES-FIREWALL", "KUBE-NODE-PORT", "KUBE-LOAD-BALANCER-LOCAL",
      "KUBE-LOAD-BALANCER-FW", "KUBE-LOAD-BALANCER-MASQ", "KUBE-LOAD-BALANCER-SOURCE-CIDR",
      "KUBE-LOAD-BALANCER-SOURCE-IP"};
  static const char* prefixes[] = {"KUBE-SVC-", "KUBE-SVL-", "KUBE-SEP-", "KUBE-FW-", "KUBE-XLB-", "KUBE-EXT-"};
  if (fixed.count(chain)) return true;
  return std::any_of(std::begin(prefixes), std::end(prefixes),
                     [&](const char* prefix) { return chain.rfind(prefix, 0) == 0; });
}

IptablesRemoval planIptablesRemoval(const std::string& iptablesSave) {
  IptablesRemoval plan;
  for (const auto& table : parse(iptablesSave)) {
    auto chains = removable(table);
    if (chains.empty()) continue;
    std::string input = "*" + table.name + "\n";
    // Jumps into the chains from the others first, last rule first so numbers hold.
    for (const auto& chain : table.chains) {
      if (chains.count(chain.name)) continue;
      for (size_t i = chain.rules.size(); i-- > 0;) {
        if (!chains.count(chain.rules[i].target)) continue;
        input += "-D " + chain.name + " " + std::to_string(i + 1) + "\n";
        plan.actions.push_back(table.name + ": delete rule " + std::to_string(i + 1) + " of " + chain.name + " (" +
                               chain.rules[i].text + ")");
      }
    }
    // Flushed before any is deleted: they jump to each other.
    for (const auto& chain : table.chains)
      if (chains.count(chain.name)) input += "-F " + chain.name + "\n";
    for (const auto& chain : table.chains) {
      if (!chains.count(chain.name)) continue;
      input += "-X " + chain.name + "\n";
      plan.actions.push_back(table.name + ": delete chain " + chain.name + " (" + std::to_string(chain.rules.size()) +
                             " rules)");
    }
    plan.restoreInput += input + "COMMIT\n";
  }
  return plan;
}

std::vector<std::string> kubeProxyChains(const std::string& iptablesSave) {
  std::vector<std::string> found;
  for (const auto& table : parse(iptablesSave))
    for (const auto& chain : table.chains)
      if (isKubeProxyChain(chain.name)) found.push_back(table.name + "/" + chain.name);
  return found;
}

std::vector<std::string> activeKubeProxyChains(const std::string& iptablesSave) {
  std::vector<std::string> active;
  for (auto& table : parse(iptablesSave)) {
    std::set<std::string> reached;
    std::vector<const Chain*> queue;
    for (const auto& chain : table.chains)
      if (chain.builtIn) queue.push_back(&chain);
    while (!queue.empty()) {
      const Chain* chain = queue.back();
      queue.pop_back();
      for (const auto& rule : chain->rules) {
        const Chain* next = table.find(rule.target);
        if (next && !next->builtIn && reached.insert(next->name).second) queue.push_back(next);
      }
    }
    for (const auto& chain : table.chains)
      if (reached.count(chain.name) && isKubeProxyChain(chain.name)) active.push_back(table.name + "/" + chain.name);
  }
  return active;
}

std::vector<std::string> kubeProxyNftTables(const std::string& nftListTables) {
  std::vector<std::string> tables;
  std::istringstream in(nftListTables);
  std::string line;
  while (std::getline(in, line)) {
    auto parts = words(line);
    if (parts.size() == 3 && parts[0] == "table" && parts[2] == "kube-proxy") tables.push_back(parts[1] + " kube-proxy");
  }
  return tables;
}

bool nftTableHooksPackets(const std::string& nftListTable) {
  std::istringstream in(nftListTable);
  std::string line;
  while (std::getline(in, line))
    if (line.find("type ") != std::string::npos && line.find(" hook ") != std::string::npos) return true;
  return false;
}

size_t ipvsVirtualServers(const std::string& procNetIpVs) {
  size_t count = 0;
  std::istringstream in(procNetIpVs);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("TCP ", 0) == 0 || line.rfind("UDP ", 0) == 0 || line.rfind("SCTP ", 0) == 0 ||
        line.rfind("FWM ", 0) == 0)
      ++count;
  return count;
}

}  // namespace bpfproxy::cli
