// Splitting a JSON List into its items without parsing the whole document.
#include <cpprest/json.h>
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "controller/source/json_list_scanner.h"

using bpfproxy::controller::forEachJsonListItem;

namespace {
std::vector<std::string> items(const std::string& text, bool* isList) {
  std::vector<std::string> found;
  *isList = forEachJsonListItem(text, [&](std::string_view item, size_t index) {
    CHECK(index == found.size());
    found.emplace_back(item);
  });
  return found;
}
}  // namespace

TEST_CASE("json list scanner: items come out whole, whatever they contain") {
  struct Case {
    const char* description;
    std::string text;
    bool isList;
    std::vector<std::string> items;
  };
  const Case cases[] = {
      {"a List of two objects",
       R"({"apiVersion":"v1","kind":"List","items":[{"kind":"Service","a":1}, {"kind":"EndpointSlice"}]})", true,
       {R"({"kind":"Service","a":1})", R"({"kind":"EndpointSlice"})"}},
      {"items before kind, a typed list, whitespace",
       "{ \"items\" : [ {\"x\": [1, {\"y\": \"]}\"}]} ] ,\n \"kind\" : \"ServiceList\" }", true,
       {R"({"x": [1, {"y": "]}"}]})"}},
      {"strings with escaped quotes and braces",
       R"({"kind":"List","items":[{"s":"a\"}{\"b"},{"t":"\\"}]})", true,
       {R"({"s":"a\"}{\"b"})", R"({"t":"\\"})"}},
      {"an empty List", R"({"kind":"List","items":[]})", true, {}},
      {"not a List: a single object", R"({"kind":"Service","items":[{"a":1}]})", false, {}},
      {"not an object", R"([{"kind":"List"}])", false, {}},
      {"a List whose items are cut short", R"({"kind":"List","items":[{"a":1},{"b":)", false, {}},
      {"a stray closing brace among the items", R"({"kind":"List","items":[{"a":1}}]})", false, {}},
      {"an empty item between commas", R"({"kind":"List","items":[{"a":1},,{"b":2}]})", false, {}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.description);
    bool isList = false;
    auto found = items(c.text, &isList);
    CHECK(isList == c.isList);
    CHECK(found == c.items);
    for (const auto& item : found) CHECK_NOTHROW(web::json::value::parse(item));
  }
}
