// Value types of the public contract: what a memory is and what a caller gets back.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace engram {

enum class MemoryKind : std::uint8_t { Episode = 0, Concept = 1 };
inline const char* kind_name(MemoryKind k) noexcept { return k == MemoryKind::Episode ? "episode" : "concept"; }

using Metadata = std::vector<std::pair<std::string, std::string>>;

// A copy of one memory, detached from the engine.
struct MemoryView {
  std::int64_t id = 0;
  MemoryKind kind = MemoryKind::Episode;
  std::vector<float> embedding;  // exactly the bytes that were stored
  std::string content;
  float confidence = 1.0f;
  double timestamp = 0.0;  // seconds since the Unix epoch
  Metadata metadata;
};

// One episode to store. The embedding is borrowed for the duration of the call.
struct EpisodeInput {
  const float* embedding = nullptr;
  std::size_t embedding_size = 0;
  std::string content;
  double confidence = 1.0;
  double timestamp = 0.0;
  bool has_timestamp = false;  // false: the engine clock's now
  Metadata metadata;
};

struct SearchHit {
  std::int64_t id;
  float similarity;
};

}  // namespace engram
