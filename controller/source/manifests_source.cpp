#include "controller/source/manifests_source.h"

#include <malloc.h>

#include "controller/source/bypass_pods.h"
#include "controller/source/deferred_sink.h"
#include "controller/source/json_list_scanner.h"
#include "controller/source/kube_decode.h"
#include "controller/source/yaml_documents.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>
#include <fstream>
#include <thread>

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

// Above this, a directory is decoded on several threads (below, threads cost more than they save).
constexpr size_t kParallelBytes = 256 * 1024;

// The whole file, read at its size (a stringstream copies it twice on the way).
bool readFile(const fs::path& path, std::string& text) {
  std::ifstream stream(path, std::ios::binary);
  std::error_code error;
  const auto size = fs::file_size(path, error);
  if (!stream || error) return false;
  text.resize(size);
  stream.read(text.data(), static_cast<std::streamsize>(size));
  text.resize(static_cast<size_t>(stream.gcount()));  // shorter: it shrank meanwhile
  if (stream.bad()) return false;
  if (stream) text.append(std::istreambuf_iterator<char>(stream), std::istreambuf_iterator<char>());  // it grew
  return !stream.bad();
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
  void deliver(Result<T> decoded, const value& json, const std::string& kind,
               const std::string& where, Upsert upsert) const {
    if (!decoded) {
      sink.reportError(file + ": " + where + " (" + describeObject(kind, json) + "): " +
                       decoded.error().message);
      return;
    }
    upsert(std::move(decoded).value());
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

// One part of the directory that decodes on its own: an item of a JSON List, a whole JSON
// file, or a YAML file with its documents.
struct ManifestsSource::Piece {
  enum Kind { kListItem, kJson, kYaml, kUnreadable };
  size_t file = 0;
  Kind kind = kJson;
  std::string_view text;
  size_t item = 0;  // kListItem: its index in the List
};

void ManifestsSource::decodePiece(const Piece& piece, const fs::path& file, SourceSink& sink) {
  Delivery delivery{sink, file.string()};
  if (piece.kind == Piece::kUnreadable) {
    sink.reportError(delivery.file + ": cannot be read");
    return;
  }
  if (piece.kind == Piece::kListItem) {
    std::string where = "document 1 item " + std::to_string(piece.item + 1);
    try {
      delivery.object(value::parse(std::string(piece.text)), where);
    } catch (const std::exception& error) {
      sink.reportError(delivery.file + ": " + where + ": does not parse: " + error.what());
    }
    return;
  }
  std::vector<value> documents;
  try {
    if (piece.kind == Piece::kJson)
      documents.push_back(value::parse(std::string(piece.text)));
    else
      documents = parseYamlDocuments(std::string(piece.text));
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
  std::vector<std::string> texts(files.size());
  std::vector<Piece> pieces;
  size_t bytes = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    if (!readFile(files[i], texts[i])) {
      pieces.push_back({i, Piece::kUnreadable, {}, 0});
      continue;
    }
    bytes += texts[i].size();
    if (files[i].extension() != ".json") {
      pieces.push_back({i, Piece::kYaml, texts[i], 0});
      continue;
    }
    // A List is decoded item by item, so memory follows the largest item, not the file.
    bool isList = forEachJsonListItem(texts[i], [&](std::string_view item, size_t index) {
      pieces.push_back({i, Piece::kListItem, item, index});
    });
    if (!isList) pieces.push_back({i, Piece::kJson, texts[i], 0});
  }
  // Decoding is most of a cold start: a large directory is decoded on every core, and the
  // objects still reach the sink in the order of the files and of the objects in them.
  const unsigned threads = bytes < kParallelBytes ? 1 : std::clamp(std::thread::hardware_concurrency(), 1u, 4u);
  decodeInParallel(
      pieces.size(), [&](size_t k) { return pieces[k].text.size(); },
      [&](size_t k, SourceSink& into) { decodePiece(pieces[k], files[pieces[k].file], into); }, sink, threads);
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
