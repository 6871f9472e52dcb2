// Helpers for the durability tests: scratch directories and small durable engines.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "engram/engine.hpp"
#include "test_util.hpp"

namespace engram::test {

// A fresh directory, removed with its contents when this goes out of scope. Under /dev/shm when
// there is one: the fault Env simulates durability itself, so real fsyncs only cost time there.
class ScratchDir {
 public:
  explicit ScratchDir(const char* tag) {
    namespace fs = std::filesystem;
    const fs::path base = fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    std::string t = (base / (std::string("engram-") + tag + "-XXXXXX")).string();
    if (::mkdtemp(t.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = t;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const noexcept { return path_; }

 private:
  std::string path_;
};

// A file's bytes, and a file replaced by bytes (tests that damage or inspect store files).
inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void spit(const std::filesystem::path& p, const std::string& data) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

// Every file of a directory tree with its bytes (LOCK aside), to show that a refusal changed nothing.
inline std::map<std::string, std::string> snapshot_files(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().filename() != "LOCK") out[e.path().string()] = slurp(e.path());
  }
  return out;
}

inline StoreOptions store_options(const std::string& path, std::shared_ptr<Env> env = nullptr,
                                  Durability mode = Durability::Group) {
  StoreOptions o;
  o.path = path;
  o.durability = mode;
  o.checkpoint_interval_s = 0;
  o.checkpoint_wal_bytes = 0;
  o.segment_bytes = 4096;  // several segments in a small test
  o.env = std::move(env);
  return o;
}

inline std::int64_t remember_key(Space& sp, std::uint64_t key) {
  const std::vector<float> v = keyed_vector(sp.dim(), key);
  EpisodeInput in;
  in.embedding = v.data();
  in.embedding_size = v.size();
  in.content = std::to_string(key);
  in.metadata = {{"key", std::to_string(key)}};
  return sp.remember(std::move(in));
}

}  // namespace engram::test
