#include "controller/model/lb_choice.h"

#include <sstream>

#include "bpf/maps_abi.h"

namespace bpfproxy::controller {

namespace {

std::string trim(const std::string& text) {
  auto first = text.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

std::optional<uint32_t> parseWeight(const std::string& text) {
  if (text.empty() || text.size() > 3 || text.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  uint32_t value = static_cast<uint32_t>(std::stoul(text));
  if (value > kMaxLbWeight) return std::nullopt;
  return value;
}

// Returns "" or why the annotation cannot be used.
std::string parseWeights(const std::string& text, LbWeights& out) {
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    item = trim(item);
    if (item.empty()) continue;
    auto equals = item.rfind('=');
    if (equals == std::string::npos) return "\"" + item + "\" is not ENDPOINT=WEIGHT or zone:NAME=WEIGHT";
    std::string target = trim(item.substr(0, equals));
    auto weight = parseWeight(trim(item.substr(equals + 1)));
    if (!weight)
      return "\"" + item + "\": the weight must be an integer from 0 to " + std::to_string(kMaxLbWeight);
    if (target.rfind("zone:", 0) == 0 && target.size() > 5) {
      out.zones[target.substr(5)] = *weight;
    } else if (auto address = IpAddress::parse(target)) {
      out.endpoints[*address] = *weight;
    } else {
      return "\"" + target + "\" is neither an endpoint address nor zone:NAME";
    }
  }
  return "";
}

}  // namespace

const std::vector<std::string>& lbAlgorithmNames() {
  static const std::vector<std::string> names = {"random", "maglev", "round-robin"};
  return names;
}

std::optional<uint8_t> parseLbAlgorithm(const std::string& name) {
  if (name == "random") return BPX_LB_RANDOM;
  if (name == "maglev") return BPX_LB_MAGLEV;
  if (name == "round-robin") return BPX_LB_ROUND_ROBIN;
  return std::nullopt;
}

std::string lbAlgorithmName(uint8_t algorithm) {
  switch (algorithm) {
    case BPX_LB_RANDOM: return "random";
    case BPX_LB_MAGLEV: return "maglev";
    case BPX_LB_ROUND_ROBIN: return "round-robin";
  }
  return "algorithm " + std::to_string(algorithm);
}

uint32_t LbWeights::weightOf(const IpAddress& address, const std::string& zone) const {
  if (auto it = endpoints.find(address); it != endpoints.end()) return it->second;
  if (auto it = zones.find(zone); !zone.empty() && it != zones.end()) return it->second;
  return 1;
}

LbChoice lbChoiceFor(const Service& service, uint8_t defaultAlgorithm) {
  LbChoice choice;
  choice.algorithm = defaultAlgorithm;
  const auto& annotations = service.meta.annotations;
  const std::string prefix = "annotation ";
  if (auto it = annotations.find(kLbAlgorithmAnnotation); it != annotations.end()) {
    if (auto algorithm = parseLbAlgorithm(trim(it->second))) {
      choice.algorithm = *algorithm;
    } else {
      std::string names;
      for (const auto& name : lbAlgorithmNames()) names += (names.empty() ? "" : ", ") + name;
      choice.errors.push_back(prefix + kLbAlgorithmAnnotation + ": \"" + it->second +
                              "\" is not one of: " + names + "; using the default, " +
                              lbAlgorithmName(defaultAlgorithm));
    }
  }
  if (auto it = annotations.find(kLbSlowStartAnnotation); it != annotations.end()) {
    std::string value = trim(it->second);
    if (!value.empty() && value.back() == 's') value.pop_back();
    auto seconds = value.size() <= 4 && !value.empty() && value.find_first_not_of("0123456789") == std::string::npos
                       ? std::stoul(value) : 0ul;
    if (seconds < 1 || seconds > 3600)
      choice.errors.push_back(prefix + kLbSlowStartAnnotation + ": \"" + it->second +
                              "\" is not a window of 1 to 3600 seconds (like 60s); no slow start");
    else if (choice.algorithm == BPX_LB_MAGLEV)
      choice.errors.push_back(prefix + kLbSlowStartAnnotation + ": slow start applies to random and round-robin, "
                              "not maglev; no slow start");
    else
      choice.slowStartSeconds = static_cast<uint32_t>(seconds);
  }
  if (auto it = annotations.find(kTerminatingFallbackAnnotation); it != annotations.end()) {
    const std::string value = trim(it->second);
    const std::string after = "drain-after=";
    if (value == "drain") {
      choice.drainAfterSeconds = 0;
    } else if (value.rfind(after, 0) == 0) {
      std::string seconds = value.substr(after.size());
      if (!seconds.empty() && seconds.back() == 's') seconds.pop_back();
      auto number = seconds.size() <= 5 && !seconds.empty() && seconds.find_first_not_of("0123456789") == std::string::npos
                        ? std::stoul(seconds) : 0ul;
      if (number >= 1 && number <= kMaxDrainAfterSeconds)
        choice.drainAfterSeconds = static_cast<uint32_t>(number);
      else
        choice.errors.push_back(prefix + kTerminatingFallbackAnnotation + ": \"" + it->second +
                                "\": drain-after takes 1 to " + std::to_string(kMaxDrainAfterSeconds) +
                                " seconds (like drain-after=30); using serve (kube-proxy's)");
    } else if (value != "serve") {
      choice.errors.push_back(prefix + kTerminatingFallbackAnnotation + ": \"" + it->second +
                              "\" is not one of: serve, drain, drain-after=SECONDS; using serve (kube-proxy's)");
    }
  }
  if (auto it = annotations.find(kLbWeightsAnnotation); it != annotations.end()) {
    LbWeights weights;
    if (auto why = parseWeights(it->second, weights); !why.empty())
      choice.errors.push_back(prefix + kLbWeightsAnnotation + ": " + why + "; every endpoint weighs 1");
    else
      choice.weights = std::move(weights);
  }
  return choice;
}

}  // namespace bpfproxy::controller
