#include "controller/source/manifests_source.h"

#include <malloc.h>

#include "controller/source/bypass_pods.h"
#include "controller/source/json_list_scanner.h"
#include "controller/source/kube_decode.h"
#include "controller/source/yaml_documents.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>
#include <fstream>
#include <sstream>

namespace bpfproxy::controller {

namespace fs = std::filesystem;
using web::json::value;

namespace {

bool isManifest(const fs::path& path) {
  const std::string name = path.filename().string();
  const std::string extension = path.extension().string();
  // Dot files include a ConfigMap volume's ..data and ..timestamp entries.
  return !name.empty() && name[0] != '.' &&
         (extension == ".yaml" || extension == ".yml" || extension == ".json");
}

std::string stringField(const value& json, const char* name) {
  if (!json.is_object() || !json.has_field(name) || !json.at(name).is_string()) return {};
  return json.at(name).as_string();
}

// "Service default/foo", for error messages; the name may be what is wrong.
std::string describeObject(const std::string& kind, const value& json) {
  ObjectMeta meta = decodeObjectMeta(json);
  if (meta.name.empty()) return kind;
  return kind + " " + (meta.namespace_.empty() ? "default" : meta.namespace_) + "/" + meta.name;
}

struct Delivery {
  SourceSink& sink;
  std::string file;

  void object(const value& json, const std::string& where) const {
    if (json.is_null()) return;  // an empty document, e.g. after a trailing "---"
    if (!json.is_object()) {
      sink.reportError(file + ": " + where + ": not an object");
      return;
    }
    const std::string kind = stringField(json, "kind");
    const std::string apiVersion = stringField(json, "apiVersion");
    const value* items = json.has_field("items") ? &json.at("items") : nullptr;
    if (kind.ends_with("List") && items && items->is_array()) {
      const auto& array = items->as_array();
      for (size_t i = 0; i < array.size(); ++i)
        object(array.at(i), where + " item " + std::to_string(i + 1));
      return;
    }
    if (kind == "Service" && apiVersion == "v1") {
      deliver(decodeService(json), json, kind, where,
              [&](Service service) { sink.upsertService(std::move(service)); });
    } else if (kind == "EndpointSlice" && apiVersion == "discovery.k8s.io/v1") {
      deliver(decodeEndpointSlice(json), json, kind, where,
              [&](EndpointSlice slice) { sink.upsertEndpointSlice(std::move(slice)); });
    } else if (kind == "Node" && apiVersion == "v1") {
      deliver(decodeNode(json), json, kind, where,
              [&](Node node) { sink.upsertNode(std::move(node)); });
    } else if (auto pod = kind == "Pod" ? decodeBypassPod(json) : std::nullopt) {
      sink.upsertPod(*pod);  // the store keeps this node's; other Pods are not ours
    } else {
      spdlog::debug("{}: {}: ignoring {} {}", file, where, apiVersion, kind);
    }
  }

  template <typename T, typename Upsert>
  void deliver(Decoded<T> decoded, const value& json, const std::string& kind,
               const std::string& where, Upsert upsert) const {
    if (!decoded.object) {
      sink.reportError(file + ": " + where + " (" + describeObject(kind, json) + "): " +
                       decoded.error);
      return;
    }
    upsert(std::move(*decoded.object));
  }
};

}  // namespace

ManifestsSource::ManifestsSource(fs::path directory, std::chrono::milliseconds pollInterval)
    : directory_(std::move(directory)), pollInterval_(pollInterval) {}

ManifestsSource::~ManifestsSource() { stop(); }

std::string ManifestsSource::describe() const { return "manifests " + directory_.string(); }

std::vector<fs::path> ManifestsSource::manifestFiles(std::error_code& error) const {
  std::vector<fs::path> files;
  for (fs::directory_iterator it(directory_, error), end; !error && it != end; it.increment(error)) {
    std::error_code ignored;
    // is_regular_file follows symlinks, as a ConfigMap volume needs.
    if (isManifest(it->path()) && it->is_regular_file(ignored)) files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

ManifestsSource::Fingerprint ManifestsSource::fingerprint(std::error_code& error) const {
  Fingerprint result;
  for (const auto& file : manifestFiles(error)) {
    std::error_code ignored;  // a file removed meanwhile still changes the fingerprint
    uintmax_t size = fs::file_size(file, ignored);
    int64_t mtime = fs::last_write_time(file, ignored).time_since_epoch().count();
    result.emplace_back(file.filename().string(), size, mtime);
  }
  return result;
}

void ManifestsSource::deliverFile(const fs::path& file, SourceSink& sink) const {
  Delivery delivery{sink, file.string()};
  std::ifstream stream(file, std::ios::binary);
  std::stringstream text;
  text << stream.rdbuf();
  if (!stream) {
    sink.reportError(delivery.file + ": cannot be read");
    return;
  }
  if (file.extension() == ".json") {
    // A List is decoded item by item, so memory follows the largest item, not the file.
    bool isList = forEachJsonListItem(text.view(), [&](std::string_view item, size_t index) {
      std::string where = "document 1 item " + std::to_string(index + 1);
      try {
        delivery.object(value::parse(std::string(item)), where);
      } catch (const std::exception& error) {
        sink.reportError(delivery.file + ": " + where + ": does not parse: " + error.what());
      }
    });
    if (isList) return;
  }
  std::vector<value> documents;
  try {
    if (file.extension() == ".json")
      documents.push_back(value::parse(text.str()));
    else
      documents = parseYamlDocuments(text.str());
  } catch (const std::exception& error) {
    sink.reportError(delivery.file + ": does not parse: " + error.what());
    return;
  }
  for (size_t i = 0; i < documents.size(); ++i)
    delivery.object(documents[i], "document " + std::to_string(i + 1));
}

void ManifestsSource::loadOnce(SourceSink& sink) {
  std::error_code error;
  auto files = manifestFiles(error);
  if (error) {
    // Keep what was delivered before: an unreadable directory is not an empty one.
    sink.reportError(describe() + ": " + error.message());
    return;
  }
  sink.resync();
  for (const auto& file : files) deliverFile(file, sink);
  sink.synced();
}

void ManifestsSource::start(SourceSink& sink) {
  std::lock_guard lock(mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  watch_ = std::make_unique<DirectoryWatch>(directory_);
  thread_ = std::thread([this, &sink] { run(sink); });
}

void ManifestsSource::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    if (watch_) watch_->wake();
  }
  if (thread_.joinable()) thread_.join();
}

void ManifestsSource::run(SourceSink& sink) {
  std::optional<Fingerprint> delivered;
  std::string lastError;
  while (true) {
    std::error_code error;
    Fingerprint current = fingerprint(error);
    if (error) {
      // Report once per distinct failure, not every poll.
      if (error.message() != lastError) sink.reportError(describe() + ": " + error.message());
      lastError = error.message();
    } else {
      lastError.clear();
      if (!delivered || current != *delivered) {
        spdlog::info("{}: loading {} files", describe(), current.size());
        loadOnce(sink);
        delivered = std::move(current);
        malloc_trim(0);  // parsing peaks far above what is kept: give it back
      }
    }
    watch_->wait(pollInterval_);
    std::lock_guard lock(mutex_);
    if (stopping_) return;
  }
}

}  // namespace bpfproxy::controller
