#pragma once
// Services and EndpointSlices from a directory of manifests (*.yaml, *.yml, *.json), for
// clusters without an API server to watch and for tests. The directory is watched with
// inotify and polled as a fallback; any change relists it whole, and the sink works out
// what was deleted.
#include <chrono>
#include <memory>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <cpprest/json.h>

#include "controller/source/directory_watch.h"
#include "controller/source/source.h"

namespace bpfproxy::controller {

class ManifestsSource : public Source {
public:
  explicit ManifestsSource(std::filesystem::path directory,
                           std::chrono::milliseconds pollInterval = std::chrono::seconds(1));
  ~ManifestsSource() override;

  void start(SourceSink& sink) override;
  void stop() override;
  std::string describe() const override;

  // Reads the directory now and delivers it whole: resync(), every object, synced().
  void loadOnce(SourceSink& sink);

private:
  // Names, sizes and modification times of the manifest files: what polling compares.
  using Fingerprint = std::vector<std::tuple<std::string, uintmax_t, int64_t>>;

  std::vector<std::filesystem::path> manifestFiles(std::error_code& error) const;
  Fingerprint fingerprint(std::error_code& error) const;
  struct Piece;
  static void decodePiece(const Piece& piece, const std::filesystem::path& file, SourceSink& sink);
  void run(SourceSink& sink);

  const std::filesystem::path directory_;
  const std::chrono::milliseconds pollInterval_;
  std::mutex mutex_;
  std::unique_ptr<DirectoryWatch> watch_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace bpfproxy::controller
