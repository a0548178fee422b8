#pragma once
// The documents of a YAML manifest file as JSON values, for the decoders in kube_decode.
#include <cpprest/json.h>

#include <string>
#include <vector>

namespace bpfproxy::controller {

// One JSON value per YAML document in text, scalars typed as Kubernetes reads them
// (quoted = string, plain integer = number, true/false = boolean). Block-style manifests
// take the fast reader (yaml_block_parser.h); anything else, malformed text included, goes
// through yaml-cpp. Throws on bad YAML, naming the line.
std::vector<web::json::value> parseYamlDocuments(const std::string& text);

// The same through yaml-cpp alone: the reference the fast reader is tested against.
std::vector<web::json::value> parseYamlDocumentsWithYamlCpp(const std::string& text);

}  // namespace bpfproxy::controller
