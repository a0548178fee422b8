#include "controller/source/yaml_flow.h"

#include <string>

#include "controller/source/yaml_scalars.h"

namespace bpfproxy::controller::yaml {

using web::json::value;

namespace {

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

}  // namespace

value flowCollection(std::string_view text, std::string_view* rest) { return FlowParser(text).collection(rest); }

}  // namespace bpfproxy::controller::yaml
