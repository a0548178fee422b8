#include "controller/source/yaml_block_parser.h"

#include <cctype>
#include <charconv>
#include <cstdint>
#include <string>

namespace bpfproxy::controller {

using web::json::value;

namespace {

// Thrown when the text leaves the subset; parseBlockYaml turns it into nullopt.
struct Unsupported {};

[[noreturn]] void unsupported() { throw Unsupported{}; }

bool isDigit(char c) { return c >= '0' && c <= '9'; }

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?, without std::regex (microseconds a call).
bool isYamlFloat(std::string_view text) {
  size_t i = 0, n = text.size();
  auto digits = [&] {
    size_t start = i;
    while (i < n && isDigit(text[i])) ++i;
    return i - start;
  };
  if (i < n && (text[i] == '-' || text[i] == '+')) ++i;
  if (i < n && text[i] == '.') {
    ++i;
    if (digits() == 0) return false;
  } else {
    if (digits() == 0) return false;
    if (i < n && text[i] == '.') {
      ++i;
      digits();
    }
  }
  if (i < n && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < n && (text[i] == '-' || text[i] == '+')) ++i;
    if (digits() == 0) return false;
  }
  return i == n;
}

struct Line {
  size_t indent = 0;
  std::string_view content;  // after the indentation, trailing spaces removed
};

// A comment starts at '#' that begins the text or follows a space.
std::string_view withoutComment(std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i)
    if (text[i] == '#' && (i == 0 || text[i - 1] == ' ')) {
      text = text.substr(0, i);
      break;
    }
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  return text;
}

void appendUtf8(std::string& out, uint32_t code) {
  if (code < 0x80) {
    out += static_cast<char>(code);
  } else if (code < 0x800) {
    out += static_cast<char>(0xC0 | (code >> 6));
    out += static_cast<char>(0x80 | (code & 0x3F));
  } else {
    out += static_cast<char>(0xE0 | (code >> 12));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code & 0x3F));
  }
}

// A quoted scalar at the start of text, closed on the same line; *rest is what follows it.
std::string quoted(std::string_view text, std::string_view* rest) {
  const char quote = text[0];
  std::string out;
  size_t i = 1;
  for (;; ++i) {
    if (i >= text.size()) unsupported();  // continues on the next line
    char c = text[i];
    if (c == quote) {
      if (quote == '\'' && i + 1 < text.size() && text[i + 1] == '\'') {
        out += '\'';
        ++i;
        continue;
      }
      break;
    }
    if (c == '\\' && quote == '"') {
      if (++i >= text.size()) unsupported();
      switch (text[i]) {
        case '\\': out += '\\'; break;
        case '"': out += '"'; break;
        case '/': out += '/'; break;
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case '0': out += '\0'; break;
        case 'u': {
          uint32_t code = 0;
          if (i + 4 >= text.size()) unsupported();
          auto [end, ec] = std::from_chars(text.data() + i + 1, text.data() + i + 5, code, 16);
          if (ec != std::errc() || end != text.data() + i + 5 || (code >= 0xD800 && code < 0xE000))
            unsupported();
          appendUtf8(out, code);
          i += 4;
          break;
        }
        default: unsupported();
      }
      continue;
    }
    out += c;
  }
  *rest = text.substr(i + 1);
  return out;
}

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

// A flow collection ({a: 1, b: [x, "y"]}) closed on the line it opens on.
class FlowParser {
public:
  explicit FlowParser(std::string_view text) : text_(text) {}

  value collection(std::string_view* rest) {
    value result = node();
    *rest = text_.substr(at_);
    return result;
  }

private:
  void skipSpaces() {
    while (at_ < text_.size() && text_[at_] == ' ') ++at_;
  }
  char peek() const { return at_ < text_.size() ? text_[at_] : '\0'; }
  void expect(char c) {
    skipSpaces();
    if (peek() != c) unsupported();
    ++at_;
  }

  value node() {
    skipSpaces();
    if (++depth_ > 64) unsupported();
    value result;
    switch (peek()) {
      case '[': result = sequence(); break;
      case '{': result = mapping(); break;
      case '"':
      case '\'': {
        std::string_view rest;
        result = value::string(quoted(text_.substr(at_), &rest));
        at_ = text_.size() - rest.size();
        break;
      }
      default: result = plainYamlScalar(std::string(plain())); break;
    }
    --depth_;
    return result;
  }

  // A plain scalar inside a flow collection: ends at , [ ] { } or ": ".
  std::string_view plain() {
    size_t start = at_;
    if (start >= text_.size() ||
        std::string_view("&*!|>%@`,[]{}#?-:").find(text_[start]) != std::string_view::npos)
      unsupported();
    while (at_ < text_.size() && std::string_view(",[]{}").find(text_[at_]) == std::string_view::npos) {
      if (text_[at_] == ':' && (at_ + 1 == text_.size() || text_[at_ + 1] == ' ')) break;
      // yaml-cpp reads these inside flow scalars its own way ("a?b" is an error to it, "::1"
      // may be a key): left to it.
      if (text_[at_] == ':' || text_[at_] == '?' || text_[at_] == '"' || text_[at_] == '\'')
        unsupported();
      if (text_[at_] == '#' && text_[at_ - 1] == ' ') unsupported();
      ++at_;
    }
    std::string_view out = text_.substr(start, at_ - start);
    while (!out.empty() && out.back() == ' ') out.remove_suffix(1);
    return out;
  }

  value sequence() {
    ++at_;
    value array = value::array();
    size_t size = 0;
    skipSpaces();
    if (peek() == ']') return ++at_, array;
    while (true) {
      array[size++] = node();
      skipSpaces();
      if (peek() == ':') unsupported();  // a single-pair mapping inside a sequence
      if (peek() == ']') return ++at_, array;
      expect(',');
    }
  }

  value mapping() {
    ++at_;
    value object = value::object();
    skipSpaces();
    if (peek() == '}') return ++at_, object;
    while (true) {
      skipSpaces();
      std::string key;
      if (peek() == '"' || peek() == '\'') {
        std::string_view rest;
        key = quoted(text_.substr(at_), &rest);
        at_ = text_.size() - rest.size();
      } else {
        key = std::string(plain());
      }
      if (key.empty() || object.has_field(key)) unsupported();
      skipSpaces();
      if (peek() == ':') {
        ++at_;
        skipSpaces();
        object[key] = (peek() == ',' || peek() == '}') ? value::null() : node();
      } else {
        object[key] = value::null();
      }
      skipSpaces();
      if (peek() == '}') return ++at_, object;
      expect(',');
    }
  }

  std::string_view text_;
  size_t at_ = 0;
  int depth_ = 0;
};

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
    value result = FlowParser(text).collection(&rest);
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

value plainYamlScalar(const std::string& text) {
  if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL")
    return value::null();
  if (text == "true" || text == "True" || text == "TRUE") return value::boolean(true);
  if (text == "false" || text == "False" || text == "FALSE") return value::boolean(false);
  const bool plusSign = text.size() > 1 && text[0] == '+' && isDigit(text[1]);
  const char* begin = text.data() + (plusSign ? 1 : 0);
  const char* end = text.data() + text.size();
  int64_t integer = 0;
  auto [stop, ec] = std::from_chars(begin, end, integer);
  if (ec == std::errc() && stop == end) return value::number(integer);
  if (isYamlFloat(text)) return value::number(std::stod(text));
  return value::string(text);
}

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
  } catch (const Unsupported&) {
    return std::nullopt;
  }
  return documents;
}

}  // namespace bpfproxy::controller
