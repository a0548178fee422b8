#pragma once
// A private file holding the fuzz input, for the code paths that read files.
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace bpfproxy::fuzz {

class ScratchDir {
public:
  ScratchDir() {
    path_ = std::filesystem::temp_directory_path() / ("bpfproxy-fuzz-" + std::to_string(getpid()));
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  // Writes a fresh directory holding only `name`; returns the file's path.
  std::filesystem::path write(const std::string& name, const uint8_t* data, size_t size) {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(path_, ec)) std::filesystem::remove_all(entry, ec);
    auto file = path_ / name;
    std::ofstream(file, std::ios::binary).write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    return file;
  }
  const std::filesystem::path& path() const { return path_; }

private:
  std::filesystem::path path_;
};

}  // namespace bpfproxy::fuzz
