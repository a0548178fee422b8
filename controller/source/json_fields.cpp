#include "controller/source/json_fields.h"

namespace bpfproxy::controller::json_fields {

using web::json::value;

void fail(const std::string& path, const std::string& why) {
  throw DecodeError(path + ": " + why);
}

std::string quoted(const std::string& text) { return "\"" + text + "\""; }

std::string typeName(const value& json) {
  switch (json.type()) {
    case value::Number: return "number";
    case value::Boolean: return "boolean";
    case value::String: return "string";
    case value::Object: return "object";
    case value::Array: return "array";
    default: return "null";
  }
}

Fields::Fields(const value& json, std::string path) : json_(json), path_(std::move(path)) {
  if (!json_.is_object()) fail(pathOrRoot(), "expected an object, got " + typeName(json_));
}

std::string Fields::path(const std::string& name) const {
  return path_.empty() ? name : path_ + "." + name;
}

const value* Fields::find(const std::string& name) const {
  const auto& object = json_.as_object();
  auto it = object.find(name);
  if (it == object.end() || it->second.is_null()) return nullptr;
  return &it->second;
}

std::string Fields::string(const std::string& name, std::string fallback) const {
  const value* field = find(name);
  if (!field) return fallback;
  return asString(*field, path(name));
}

std::optional<bool> Fields::optionalBool(const std::string& name) const {
  const value* field = find(name);
  if (!field) return std::nullopt;
  if (!field->is_boolean()) fail(path(name), "expected a boolean, got " + typeName(*field));
  return field->as_bool();
}

std::optional<int64_t> Fields::optionalInteger(const std::string& name) const {
  const value* field = find(name);
  if (!field) return std::nullopt;
  return asInteger(*field, path(name));
}

std::optional<Fields> Fields::object(const std::string& name) const {
  const value* field = find(name);
  if (!field) return std::nullopt;
  return Fields(*field, path(name));
}

void Fields::forEach(const std::string& name,
                     const std::function<void(const value&, const std::string&)>& each) const {
  const value* field = find(name);
  if (!field) return;
  if (!field->is_array()) fail(path(name), "expected an array, got " + typeName(*field));
  const auto& array = field->as_array();
  for (size_t i = 0; i < array.size(); ++i)
    each(array.at(i), path(name) + "[" + std::to_string(i) + "]");
}

size_t Fields::count(const std::string& name) const {
  const value* field = find(name);
  return field && field->is_array() ? field->as_array().size() : 0;
}

std::vector<std::string> Fields::strings(const std::string& name) const {
  std::vector<std::string> result;
  result.reserve(count(name));
  forEach(name, [&](const value& element, const std::string& at) {
    result.push_back(asString(element, at));
  });
  return result;
}

std::map<std::string, std::string> Fields::stringMap(const std::string& name) const {
  std::map<std::string, std::string> result;
  auto fields = object(name);
  if (!fields) return result;
  for (const auto& [key, element] : fields->json_.as_object())
    result[key] = asString(element, fields->path(key));
  return result;
}

std::string Fields::asString(const value& json, const std::string& at) {
  if (!json.is_string()) fail(at, "expected a string, got " + typeName(json));
  return json.as_string();
}

int64_t Fields::asInteger(const value& json, const std::string& at) {
  if (!json.is_number() || !json.as_number().is_int64())
    fail(at, "expected an integer, got " + (json.is_number() ? json.serialize() : typeName(json)));
  return json.as_number().to_int64();
}

}  // namespace bpfproxy::controller::json_fields
