#include "controller/source/yaml_documents.h"

#include <yaml-cpp/yaml.h>

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

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

// yaml-cpp 0.7's LoadAll can loop forever, growing memory, on a mangled multi-document
// stream (fuzz/regressions/manifests/yaml-cpp-loadall-hang): the documents are split here,
// at marker lines, and each is loaded on its own, with bounds on their count and size.
constexpr size_t kMaxYamlDocuments = 100000;
constexpr size_t kMaxYamlDocumentBytes = 16u << 20;

struct YamlDocumentText {
  std::string text;
  size_t firstLine = 0;  // 0-based, for messages
  bool marked = false;   // started by "---": a document even when empty
};

// "---" or "..." at column 0, alone or followed by a space, tab or line break.
bool isMarker(std::string_view line, std::string_view marker) {
  if (line.substr(0, 3) != marker) return false;
  return line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r';
}

// Content other than blank lines, comments and directives.
bool hasContent(std::string_view text) {
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    size_t first = line.find_first_not_of(" \t\r");
    if (first != std::string_view::npos && line[first] != '#' && !(first == 0 && line[0] == '%')) return true;
    start = end + 1;
  }
  return false;
}

std::vector<YamlDocumentText> splitYamlDocuments(const std::string& text) {
  std::vector<YamlDocumentText> documents(1);
  size_t start = 0, line = 0;
  bool ended = false;  // after "...": only a "---" starts the next document
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string_view current(text.data() + start, end - start);
    if (isMarker(current, "---")) {
      documents.push_back({std::string(current) + "\n", line, true});
      ended = false;
    } else if (isMarker(current, "...")) {
      ended = true;
    } else if (ended) {
      if (hasContent(current))
        throw std::runtime_error("line " + std::to_string(line + 1) + ": content after \"...\" without \"---\"");
    } else {
      documents.back().text.append(current).push_back('\n');
    }
    if (documents.size() > kMaxYamlDocuments)
      throw std::runtime_error("more than " + std::to_string(kMaxYamlDocuments) + " YAML documents");
    if (documents.back().text.size() > kMaxYamlDocumentBytes)
      throw std::runtime_error("document " + std::to_string(documents.size()) + " (line " +
                               std::to_string(documents.back().firstLine + 1) + ") is over " +
                               std::to_string(kMaxYamlDocumentBytes >> 20) + " MiB");
    start = end + 1;
    ++line;
  }
  if (!documents.front().marked && !hasContent(documents.front().text)) documents.erase(documents.begin());
  return documents;
}

}  // namespace

std::vector<value> parseYamlDocuments(const std::string& text) {
  if (auto documents = parseBlockYaml(text)) return std::move(*documents);
  return parseYamlDocumentsWithYamlCpp(text);
}

std::vector<value> parseYamlDocumentsWithYamlCpp(const std::string& text) {
  std::vector<value> documents;
  for (const auto& document : splitYamlDocuments(text)) {
    try {
      documents.push_back(toJson(YAML::Load(document.text)));
    } catch (const YAML::Exception& error) {
      // yaml-cpp counts lines from the document's start: name the file's line instead.
      throw std::runtime_error("document " + std::to_string(documents.size() + 1) + ", line " +
                               std::to_string(document.firstLine + error.mark.line + 1) + ": " + error.msg);
    }
  }
  return documents;
}

}  // namespace bpfproxy::controller
