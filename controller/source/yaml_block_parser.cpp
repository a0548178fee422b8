#include "controller/source/yaml_block_parser.h"

#include <string>

#include "controller/source/yaml_flow.h"
#include "controller/source/yaml_scalars.h"

namespace bpfproxy::controller {

using web::json::value;
using yaml::quoted;
using yaml::unsupported;
using yaml::withoutComment;

namespace {

struct Line {
  size_t indent = 0;
  std::string_view content;  // after the indentation, trailing spaces removed
};

// Where a "key: value" line's key ends (the ':'), or npos when the line is no mapping entry.
size_t keyEnd(std::string_view content) {
  // A flow collection is a value; as a key ("{a: 1}: x") it is outside the subset.
  if (content.empty() || content[0] == '[' || content[0] == '{') return std::string_view::npos;
  if (content[0] == '"' || content[0] == '\'') {
    std::string_view rest;
    quoted(content, &rest);
    size_t colon = content.size() - rest.size();
    if (!rest.empty() && rest[0] == ':' && (rest.size() == 1 || rest[1] == ' ')) return colon;
    return std::string_view::npos;
  }
  for (size_t i = 0; i < content.size(); ++i) {
    if (content[i] == '#' && i > 0 && content[i - 1] == ' ') return std::string_view::npos;
    if (content[i] == ':' && (i + 1 == content.size() || content[i + 1] == ' '))
      return i;
  }
  return std::string_view::npos;
}

bool isSequenceEntry(std::string_view content) {
  return content == "-" || content.starts_with("- ");
}

// A scalar or flow collection that is the whole rest of a line.
value scalar(std::string_view text) {
  if (text[0] == '"' || text[0] == '\'') {
    std::string_view rest;
    std::string out = quoted(text, &rest);
    if (!withoutComment(rest).empty()) unsupported();
    return value::string(out);
  }
  if (text[0] == '[' || text[0] == '{') {
    std::string_view rest;
    value result = yaml::flowCollection(text, &rest);
    if (!rest.empty() && rest[0] != ' ') unsupported();
    if (!withoutComment(rest).empty()) unsupported();
    return result;
  }
  text = withoutComment(text);
  // Indicators that start anchors, aliases, tags, block scalars, flow collections, directives.
  if (std::string_view("&*!|>%@`{[]},?").find(text[0]) != std::string_view::npos) unsupported();
  if (isSequenceEntry(text) || text.find(": ") != std::string_view::npos || text.back() == ':')
    unsupported();
  return plainYamlScalar(std::string(text));
}

class Parser {
public:
  explicit Parser(std::vector<Line> lines) : lines_(std::move(lines)) {}

  value document() {
    if (lines_.empty()) return value::null();
    value root = node(lines_[0].indent);
    if (next_ != lines_.size()) unsupported();  // lines left at an indentation nothing takes
    return root;
  }

private:
  bool atEnd() const { return next_ >= lines_.size(); }
  Line& current() { return lines_[next_]; }

  value node(size_t indent) {
    Line& line = current();
    if (isSequenceEntry(line.content)) return sequence(indent);
    if (keyEnd(line.content) != std::string_view::npos) return mapping(indent);
    value result = scalar(line.content);
    ++next_;
    if (!atEnd() && current().indent > indent) unsupported();  // a multi-line scalar
    return result;
  }

  // The value of a key or sequence entry with nothing after it on its line.
  value child(size_t parentIndent, bool allowSequenceAtParent) {
    if (atEnd()) return value::null();
    const Line& line = current();
    if (line.indent > parentIndent) return node(line.indent);
    if (allowSequenceAtParent && line.indent == parentIndent && isSequenceEntry(line.content))
      return sequence(parentIndent);
    return value::null();
  }

  // The value after "key:" or "- " on the same line, or on the lines below.
  value inlineOrChild(size_t indent, size_t column, std::string_view rest, bool keyValue) {
    if (rest.empty() || rest[0] == '#') {
      ++next_;
      return child(indent, keyValue);
    }
    if (isSequenceEntry(rest) || (!keyValue && keyEnd(rest) != std::string_view::npos)) {
      if (keyValue) unsupported();  // "key: - x" is not YAML
      // "- key: value" or "- - x": a collection starting at this column; the line is re-read
      // as if it began there.
      current() = Line{column, rest};
      return node(column);
    }
    value result = scalar(rest);
    ++next_;
    if (!atEnd() && current().indent > indent) unsupported();  // a multi-line scalar
    return result;
  }

  value sequence(size_t indent) {
    value array = value::array();
    size_t size = 0;
    while (!atEnd()) {
      Line& line = current();
      if (line.indent < indent) break;
      if (line.indent > indent || !isSequenceEntry(line.content)) {
        if (line.indent > indent) unsupported();
        break;  // the next key of a mapping at this indentation
      }
      std::string_view rest = line.content.substr(1);
      size_t skipped = 0;
      while (skipped < rest.size() && rest[skipped] == ' ') ++skipped;
      rest.remove_prefix(skipped);
      array[size++] = inlineOrChild(indent, indent + 1 + skipped, rest, false);
    }
    return array;
  }

  value mapping(size_t indent) {
    value object = value::object();
    while (!atEnd()) {
      Line& line = current();
      if (line.indent < indent) break;
      if (line.indent > indent) unsupported();
      if (isSequenceEntry(line.content)) break;  // an enclosing compact sequence goes on
      size_t end = keyEnd(line.content);
      if (end == std::string_view::npos) unsupported();
      std::string key;
      std::string_view keyText = line.content.substr(0, end);
      if (keyText.empty()) unsupported();
      if (keyText[0] == '"' || keyText[0] == '\'') {
        std::string_view afterKey;
        key = quoted(keyText, &afterKey);
      } else {
        if (std::string_view("&*!|>%@`{[]},?-").find(keyText[0]) != std::string_view::npos &&
            !(keyText[0] == '-' && keyText.size() > 1 && keyText[1] != ' '))
          unsupported();
        while (!keyText.empty() && keyText.back() == ' ') keyText.remove_suffix(1);
        key = std::string(keyText);
      }
      if (object.has_field(key)) unsupported();  // duplicates: whatever yaml-cpp does
      std::string_view rest = line.content.substr(end + 1);
      while (!rest.empty() && rest[0] == ' ') rest.remove_prefix(1);
      object[key] = inlineOrChild(indent, indent, rest, true);
    }
    return object;
  }

  std::vector<Line> lines_;
  size_t next_ = 0;
};

}  // namespace

std::optional<std::vector<value>> parseBlockYaml(std::string_view text) {
  std::vector<value> documents;
  std::vector<Line> lines;
  bool started = false;  // a document has begun (content, or an explicit "---")
  auto finish = [&] {
    documents.push_back(Parser(std::move(lines)).document());
    lines.clear();
  };
  try {
    while (!text.empty()) {
      size_t newline = text.find('\n');
      std::string_view raw = text.substr(0, newline);
      text = newline == std::string_view::npos ? std::string_view{} : text.substr(newline + 1);
      if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
      if (raw.find('\t') != std::string_view::npos) unsupported();
      if (raw.starts_with("---") && withoutComment(raw.substr(3)).empty() &&
          (raw.size() == 3 || raw[3] == ' ')) {
        if (started) finish();
        started = true;
        continue;
      }
      if (raw.starts_with("...") || raw.starts_with("%") || raw.starts_with("---") ||
          raw.starts_with("\xEF\xBB\xBF"))
        unsupported();
      size_t indent = raw.find_first_not_of(' ');
      if (indent == std::string_view::npos) continue;  // blank
      std::string_view content = raw.substr(indent);
      if (content[0] == '#') continue;  // a comment line
      while (content.back() == ' ') content.remove_suffix(1);
      lines.push_back({indent, content});
      started = true;
    }
    if (started) finish();
  } catch (const yaml::YamlUnsupported&) {
    return std::nullopt;
  }
  return documents;
}

}  // namespace bpfproxy::controller
