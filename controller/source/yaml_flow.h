#pragma once
// A flow collection ({a: 1, b: [x, "y"]}) of the YAML subset the block reader takes
// (yaml_block_parser.h): one that closes on the line it opens on. Text outside the subset
// throws yaml::YamlUnsupported.
#include <cpprest/json.h>

#include <string_view>

namespace bpfproxy::controller::yaml {

// The collection at the start of text; *rest is what follows it on the line.
web::json::value flowCollection(std::string_view text, std::string_view* rest);

}  // namespace bpfproxy::controller::yaml
