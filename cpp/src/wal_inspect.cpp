// Offline reading of a store's WAL for inspection (store.hpp, inspect_wal): every frame of every
// segment in file order, with the concept records decoded (docs/format.md, "7 ConceptCommit").
// Read-only; nothing is repaired or quarantined here (that is recovery's job).
#include <algorithm>
#include <unordered_map>

#include "engram/codec.hpp"
#include "engram/errors.hpp"
#include "engram/space.hpp"
#include "engram/store.hpp"
#include "engram/wal.hpp"

namespace engram {
namespace {

// CreateSpace payload: the space's ordinal and dimension (docs/format.md, "1 CreateSpace").
void note_space(std::string_view payload, std::unordered_map<std::uint32_t, std::size_t>& dims) {
  Decoder in(payload);
  const auto ord = in.get<std::uint32_t>();
  in.get_str();
  dims[ord] = static_cast<std::size_t>(Space::decode_config(in).dim);
}

void decode_concept(std::string_view payload, const std::unordered_map<std::uint32_t, std::size_t>& dims,
                    WalRecordInfo& r) {
  Decoder in(payload);
  r.ordinal = in.get<std::uint32_t>();
  r.concept_id = in.get<std::int64_t>();
  r.is_new = in.get<std::uint8_t>() != 0;
  in.get<double>();  // time
  in.get<float>();   // coherence
  in.get<float>();   // confidence
  in.get<double>();  // pair similarity sum
  const auto n = in.get<std::uint32_t>();
  if (n > in.remaining() / sizeof(std::int64_t)) throw CorruptionError("member count exceeds the record");
  r.members.reserve(n);
  for (std::uint32_t i = 0; i < n; ++i) r.members.push_back(in.get<std::int64_t>());
  const auto dim = dims.find(r.ordinal);
  if (dim == dims.end()) throw CorruptionError("no CreateSpace record for ordinal " + std::to_string(r.ordinal));
  std::vector<float> centroid(dim->second);
  in.get_bytes(centroid.data(), centroid.size() * sizeof(float));
  const auto b = in.get<std::uint32_t>();
  if (b > in.remaining() / 16) throw CorruptionError("binding count exceeds the record");
  r.bindings.reserve(b);
  for (std::uint32_t i = 0; i < b; ++i) {
    r.bindings.push_back(in.get<std::int64_t>());
    in.get<float>();  // strength
    in.get<float>();  // contribution
  }
  if (!in.done()) throw CorruptionError("concept record has trailing bytes");
}

}  // namespace

WalInspection inspect_wal(const std::string& store, Env& env) {
  WalInspection out;
  std::uint32_t major = kFormatVersion;  // a version-1 store awaiting migration is read as such
  try {
    major = read_format_version(env, store);
  } catch (const StorageError& e) {
    out.problems.push_back(e.what());
  }
  std::unordered_map<std::uint32_t, std::size_t> dims;  // space ordinal -> dimension
  // Spaces created before the newest readable checkpoint are only named there.
  const auto ckpts = list_checkpoints(env, store);
  for (auto it = ckpts.rbegin(); it != ckpts.rend(); ++it) {
    try {
      const std::string data = env.read_file(it->path);
      CheckpointHeader hdr;
      const std::string_view body = check_checkpoint(data, it->path, hdr, major);
      scan_frames(body, 0, 1, [&](const FrameHeader& h, std::string_view p) {
        if (h.type == RecordType::CreateSpace) note_space(p, dims);
      });
      break;
    } catch (const StorageError& e) {
      out.problems.push_back(it->path + ": " + e.what());
    }
  }
  for (const SegmentFile& s : list_segments(env, store + "/wal")) {
    ++out.segments;
    std::string data;
    try {
      data = env.read_file(s.path);
      check_segment_header(data, s.path, major);
    } catch (const StorageError& e) {
      out.problems.push_back(e.what());
      continue;
    }
    const ScanResult sc = scan_frames(data, kSegmentHeaderBytes, 0, [&](const FrameHeader& h, std::string_view p) {
      WalRecordInfo r;
      r.lsn = h.lsn;
      r.type = static_cast<std::uint16_t>(h.type);
      r.timestamp_ns = h.timestamp_ns;
      r.segment = s.path;
      try {
        if (h.type == RecordType::CreateSpace) note_space(p, dims);
        if (h.type == RecordType::ConceptCommit) decode_concept(p, dims, r);
      } catch (const EngramError& e) {
        out.problems.push_back(s.path + ": record LSN " + std::to_string(h.lsn) + ": " + e.what());
      }
      out.records.push_back(std::move(r));
    });
    if (sc.status != ScanResult::Status::Ok) {
      out.problems.push_back(s.path + " at offset " + std::to_string(sc.error_offset) + ": " + sc.error);
    }
  }
  return out;
}

}  // namespace engram
