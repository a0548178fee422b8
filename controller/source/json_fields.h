#pragma once
// A JSON object read field by field for the Kubernetes decoders: every error names the
// field's path ("spec.ports[1].port") and why.
#include <cpprest/json.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace bpfproxy::controller::json_fields {

// Thrown by the readers and the decoders; each public decoder turns it into an Error.
struct DecodeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void fail(const std::string& path, const std::string& why);
std::string quoted(const std::string& text);
std::string typeName(const web::json::value& json);

// Absent and null fields are the same: the API server omits empty fields, manifests write null.
class Fields {
public:
  Fields(const web::json::value& json, std::string path);

  std::string path(const std::string& name) const;
  const web::json::value* find(const std::string& name) const;
  std::string string(const std::string& name, std::string fallback = {}) const;
  std::optional<bool> optionalBool(const std::string& name) const;
  std::optional<int64_t> optionalInteger(const std::string& name) const;
  std::optional<Fields> object(const std::string& name) const;

  // Calls each(element, "path[i]") for every element of an array field.
  void forEach(const std::string& name,
               const std::function<void(const web::json::value&, const std::string&)>& each) const;

  // The length of an array field (0 when absent or not an array): what to reserve, since
  // the store keeps these vectors and growth by doubling leaves up to half of them unused.
  size_t count(const std::string& name) const;

  std::vector<std::string> strings(const std::string& name) const;
  std::map<std::string, std::string> stringMap(const std::string& name) const;

  static std::string asString(const web::json::value& json, const std::string& at);
  static int64_t asInteger(const web::json::value& json, const std::string& at);

private:
  std::string pathOrRoot() const { return path_.empty() ? "object" : path_; }

  const web::json::value& json_;
  std::string path_;
};

}  // namespace bpfproxy::controller::json_fields
