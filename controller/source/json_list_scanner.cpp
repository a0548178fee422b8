#include "controller/source/json_list_scanner.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace bpfproxy::controller {

namespace {

size_t skipSpace(std::string_view text, size_t i) {
  while (i < text.size() && (text[i] == ' ' || text[i] == '\n' || text[i] == '\r' || text[i] == '\t')) ++i;
  return i;
}

// End (one past) of the string starting at text[i] == '"'.
std::optional<size_t> stringEnd(std::string_view text, size_t i) {
  for (++i; i < text.size(); ++i) {
    if (text[i] == '\\') ++i;
    else if (text[i] == '"') return i + 1;
  }
  return std::nullopt;
}

// End (one past) of the value starting at text[i]; the value itself is not validated.
std::optional<size_t> valueEnd(std::string_view text, size_t i) {
  if (i >= text.size()) return std::nullopt;
  if (text[i] == '"') return stringEnd(text, i);
  if (text[i] != '{' && text[i] != '[') {
    const size_t start = i;
    while (i < text.size() && text[i] != ',' && text[i] != '}' && text[i] != ']') ++i;
    // A closing bracket or a comma where a value belongs is no value: without this a stray
    // '}' in a List's items ended nothing and the scan never moved (found by fuzz_manifests).
    if (i == start) return std::nullopt;
    return i;
  }
  int depth = 0;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c == '"') {
      auto end = stringEnd(text, i);
      if (!end) return std::nullopt;
      i = *end - 1;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if ((c == '}' || c == ']') && --depth == 0) {
      return i + 1;
    }
  }
  return std::nullopt;
}

// The top-level members of an object: key -> the value's text.
std::optional<std::map<std::string, std::string_view>> members(std::string_view text) {
  size_t i = skipSpace(text, 0);
  if (i >= text.size() || text[i] != '{') return std::nullopt;
  std::map<std::string, std::string_view> result;
  i = skipSpace(text, i + 1);
  while (i < text.size() && text[i] != '}') {
    if (text[i] != '"') return std::nullopt;
    auto keyEnd = stringEnd(text, i);
    if (!keyEnd) return std::nullopt;
    std::string key(text.substr(i + 1, *keyEnd - i - 2));
    i = skipSpace(text, *keyEnd);
    if (i >= text.size() || text[i] != ':') return std::nullopt;
    i = skipSpace(text, i + 1);
    auto end = valueEnd(text, i);
    if (!end) return std::nullopt;
    result[key] = text.substr(i, *end - i);
    i = skipSpace(text, *end);
    if (i < text.size() && text[i] == ',') i = skipSpace(text, i + 1);
  }
  return result;
}

}  // namespace

bool forEachJsonListItem(std::string_view text,
                         const std::function<void(std::string_view item, size_t index)>& visit) {
  auto top = members(text);
  if (!top || !top->count("kind") || !top->count("items")) return false;
  std::string_view kind = top->at("kind");
  if (kind.size() < 6 || kind.front() != '"' || kind.substr(kind.size() - 5) != "List\"") return false;
  std::string_view items = top->at("items");
  if (items.empty() || items.front() != '[') return false;

  std::vector<std::string_view> found;
  size_t i = skipSpace(items, 1);
  while (i < items.size() && items[i] != ']') {
    auto end = valueEnd(items, i);
    if (!end) return false;
    found.push_back(items.substr(i, *end - i));
    i = skipSpace(items, *end);
    if (i < items.size() && items[i] == ',') i = skipSpace(items, i + 1);
  }
  for (size_t index = 0; index < found.size(); ++index) visit(found[index], index);
  return true;
}

}  // namespace bpfproxy::controller
