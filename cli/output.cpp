#include "cli/output.h"

#include <yaml-cpp/yaml.h>

namespace bpfproxy::cli {

namespace {

void emit(YAML::Emitter& out, const web::json::value& value) {
  switch (value.type()) {
    case web::json::value::Object:
      out << YAML::BeginMap;
      for (const auto& [key, item] : value.as_object()) {
        out << YAML::Key << key << YAML::Value;
        emit(out, item);
      }
      out << YAML::EndMap;
      break;
    case web::json::value::Array:
      out << YAML::BeginSeq;
      for (const auto& item : value.as_array()) emit(out, item);
      out << YAML::EndSeq;
      break;
    case web::json::value::String: out << YAML::DoubleQuoted << value.as_string(); break;
    case web::json::value::Boolean: out << value.as_bool(); break;
    case web::json::value::Number:
      if (value.is_integer()) out << value.as_number().to_int64();
      else out << value.as_double();
      break;
    case web::json::value::Null: out << YAML::Null; break;
  }
}

}  // namespace

CLI::Option* addOutputFlag(CLI::App& cmd, std::string& output) {
  return cmd.add_option("-o,--output", output, "table, json or yaml")
      ->check(CLI::IsMember({"table", "json", "yaml"}))
      ->capture_default_str();
}

std::string toYaml(const web::json::value& value) {
  YAML::Emitter out;
  out << YAML::BeginDoc;
  emit(out, value);
  return std::string(out.c_str()) + "\n";
}

bool printStructured(const web::json::value& value, const std::string& format, std::ostream& out) {
  if (format == "json") {
    out << value.serialize() << "\n";
    return true;
  }
  if (format == "yaml") {
    out << toYaml(value);
    return true;
  }
  return false;
}

web::json::value jsonStrings(const std::vector<std::string>& items) {
  auto array = web::json::value::array();
  for (size_t i = 0; i < items.size(); ++i) array[i] = web::json::value::string(items[i]);
  return array;
}

}  // namespace bpfproxy::cli
