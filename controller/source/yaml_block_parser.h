#pragma once
// A fast reader for the YAML that Kubernetes manifests are written in: block mappings and
// sequences, single-line plain and quoted scalars, single-line flow collections ({a: 1},
// [x, y]), comments, "---" between documents. yaml-cpp builds a node tree and copies it;
// this reads the text once into JSON values. Anything outside that subset (anchors, tags,
// block or multi-line scalars, tabs, odd indentation, duplicate keys) makes it
// give up, and the caller parses the text with yaml-cpp, which also names the line of any
// error: this reader never reports one.
#include <cpprest/json.h>

#include <optional>
#include <string_view>
#include <vector>

#include "controller/source/yaml_scalars.h"  // plainYamlScalar

namespace bpfproxy::controller {

// One JSON value per document, typed as yaml-cpp plus plainYamlScalar would type them; or
// nullopt when the text is outside the subset (or not valid YAML).
std::optional<std::vector<web::json::value>> parseBlockYaml(std::string_view text);

}  // namespace bpfproxy::controller
