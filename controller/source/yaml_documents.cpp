#include "controller/source/yaml_documents.h"

#include <yaml-cpp/yaml.h>

#include <stdexcept>

#include "controller/source/yaml_block_parser.h"

namespace bpfproxy::controller {

using web::json::value;

namespace {

value toJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar: {
      // yaml-cpp tags a quoted scalar "!": always a string, even "80" or "true".
      const std::string& tag = node.Tag();
      if (tag == "!" || tag == "tag:yaml.org,2002:str") return value::string(node.Scalar());
      return plainYamlScalar(node.Scalar());
    }
    case YAML::NodeType::Sequence: {
      value array = value::array(node.size());
      size_t index = 0;
      for (const auto& element : node) array[index++] = toJson(element);
      return array;
    }
    case YAML::NodeType::Map: {
      value object = value::object();
      for (const auto& entry : node) {
        if (!entry.first.IsScalar())
          throw std::runtime_error("line " + std::to_string(entry.first.Mark().line + 1) +
                                   ": only scalar mapping keys are supported");
        object[entry.first.Scalar()] = toJson(entry.second);
      }
      return object;
    }
    default: return value::null();
  }
}

}  // namespace

std::vector<value> parseYamlDocuments(const std::string& text) {
  if (auto documents = parseBlockYaml(text)) return std::move(*documents);
  return parseYamlDocumentsWithYamlCpp(text);
}

std::vector<value> parseYamlDocumentsWithYamlCpp(const std::string& text) {
  std::vector<value> documents;
  for (const auto& node : YAML::LoadAll(text)) documents.push_back(toJson(node));
  return documents;
}

}  // namespace bpfproxy::controller
