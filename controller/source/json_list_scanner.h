#pragma once
// Splits a JSON `kind: *List` document into the text of its items without building the
// whole tree: a 10,000-Service List parsed at once holds ten times its size in memory.
#include <functional>
#include <string_view>

namespace bpfproxy::controller {

// When `text` is a JSON object whose "kind" ends in "List" and whose "items" is an array,
// calls `visit` with each item's text and 0-based index and returns true. Otherwise (not a
// List, or malformed around the items) returns false having visited nothing.
bool forEachJsonListItem(std::string_view text,
                         const std::function<void(std::string_view item, size_t index)>& visit);

}  // namespace bpfproxy::controller
