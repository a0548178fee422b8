#include "controller/source/yaml_scalars.h"

#include <charconv>
#include <cstdint>

namespace bpfproxy::controller {

using web::json::value;

namespace yaml {

namespace {

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

}  // namespace

std::string_view withoutComment(std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i)
    if (text[i] == '#' && (i == 0 || text[i - 1] == ' ')) {
      text = text.substr(0, i);
      break;
    }
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  return text;
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

}  // namespace yaml

value plainYamlScalar(const std::string& text) {
  if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL")
    return value::null();
  if (text == "true" || text == "True" || text == "TRUE") return value::boolean(true);
  if (text == "false" || text == "False" || text == "FALSE") return value::boolean(false);
  const bool plusSign = text.size() > 1 && text[0] == '+' && yaml::isDigit(text[1]);
  const char* begin = text.data() + (plusSign ? 1 : 0);
  const char* end = text.data() + text.size();
  int64_t integer = 0;
  auto [stop, ec] = std::from_chars(begin, end, integer);
  if (ec == std::errc() && stop == end) return value::number(integer);
  if (yaml::isYamlFloat(text)) return value::number(std::stod(text));
  return value::string(text);
}

}  // namespace bpfproxy::controller
