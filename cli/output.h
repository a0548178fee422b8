#pragma once
// -o table|json|yaml for every inspection command: each builds one JSON value for scripts
// and prints its own table for people; YAML is the same value through yaml-cpp's emitter.
#include <cpprest/json.h>

#include <CLI/CLI.hpp>
#include <ostream>
#include <string>

namespace bpfproxy::cli {

CLI::Option* addOutputFlag(CLI::App& cmd, std::string& output);  // -o, --output
std::string toYaml(const web::json::value& value);
// Prints `value` as JSON or YAML; false when `format` is "table" (the caller prints).
bool printStructured(const web::json::value& value, const std::string& format, std::ostream& out);

// Small helpers for building the JSON views.
inline web::json::value jsonString(const std::string& text) { return web::json::value::string(text); }
web::json::value jsonStrings(const std::vector<std::string>& items);

}  // namespace bpfproxy::cli
