#pragma once
// The scalars of the YAML subset the block reader takes (yaml_block_parser.h): plain scalars
// typed by the YAML 1.2 core schema, single-line quoted scalars, and comments. Text outside
// the subset throws YamlUnsupported, which parseBlockYaml turns into "let yaml-cpp read it".
#include <cpprest/json.h>

#include <string>
#include <string_view>

namespace bpfproxy::controller {

// YAML 1.2 core schema for a plain (unquoted) scalar, the way sigs.k8s.io/yaml hands it to
// JSON: null, boolean, integer, float, else string.
web::json::value plainYamlScalar(const std::string& text);

namespace yaml {

// Thrown when the text leaves the subset.
struct YamlUnsupported {};
[[noreturn]] inline void unsupported() { throw YamlUnsupported{}; }

// The text before a comment ('#' that begins the text or follows a space), trailing spaces
// removed.
std::string_view withoutComment(std::string_view text);

// A quoted scalar at the start of text, closed on the same line; *rest is what follows it.
std::string quoted(std::string_view text, std::string_view* rest);

}  // namespace yaml
}  // namespace bpfproxy::controller
