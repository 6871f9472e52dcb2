#include "backup.hpp"

#include <openssl/evp.h>
#include <simdjson.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "engram/env.hpp"
#include "engram/store.hpp"
#include "json_writer.hpp"

namespace engram::server {

namespace {

constexpr int kManifestFormat = 1;  // engram/durability/backup.py MANIFEST_FORMAT
constexpr std::size_t kChunk = 1 << 20;

struct FileEntry {
  std::uint64_t bytes = 0;
  std::string sha256;
  std::optional<std::uint64_t> first_lsn;  // WAL segments
  std::optional<std::uint64_t> lsn;        // the checkpoint
};

struct Manifest {
  std::string store;
  std::uint64_t checkpoint_lsn = 0;
  std::map<std::string, FileEntry> files;
};

double unix_now() { return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(); }

std::string hex(const unsigned char* p, unsigned n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (unsigned i = 0; i < n; ++i) {
    out[2 * i] = kDigits[p[i] >> 4];
    out[2 * i + 1] = kDigits[p[i] & 15];
  }
  return out;
}

// The previous backup's manifest; nullopt when dest has none. StorageError when it is unreadable
// or of another format (a full backup is the way out, and the message says so).
std::optional<Manifest> read_manifest(Env& env, const std::string& dest) {
  const std::string path = dest + "/manifest.json";
  if (!env.exists(path)) return std::nullopt;
  const std::string text = env.read_file(path);
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  const auto bad = [&](const std::string& why) {
    return StorageError(path + " is not a backup manifest this build reads (" + why +
                        "); back up with full=true to start a new backup there");
  };
  if (parser.parse(text).get(root) != simdjson::SUCCESS) throw bad("not JSON");
  std::int64_t format = 0;
  if (root["format"].get_int64().get(format) != simdjson::SUCCESS || format != kManifestFormat)
    throw bad("format " + std::to_string(format) + ", expected " + std::to_string(kManifestFormat));
  Manifest m;
  std::string_view store;
  simdjson::dom::object files;
  std::uint64_t ckpt = 0;
  if (root["store"].get_string().get(store) != simdjson::SUCCESS ||
      root["checkpoint_lsn"].get_uint64().get(ckpt) != simdjson::SUCCESS ||
      root["files"].get_object().get(files) != simdjson::SUCCESS)
    throw bad("store, checkpoint_lsn or files missing");
  m.store = std::string(store);
  m.checkpoint_lsn = ckpt;
  for (auto [key, value] : files) {
    FileEntry e;
    std::string_view sha;
    if (value["bytes"].get_uint64().get(e.bytes) != simdjson::SUCCESS ||
        value["sha256"].get_string().get(sha) != simdjson::SUCCESS)
      throw bad("file " + std::string(key) + " lacks bytes or sha256");
    e.sha256 = std::string(sha);
    std::uint64_t v = 0;
    if (value["first_lsn"].get_uint64().get(v) == simdjson::SUCCESS) e.first_lsn = v;
    if (value["lsn"].get_uint64().get(v) == simdjson::SUCCESS) e.lsn = v;
    m.files.emplace(std::string(key), std::move(e));
  }
  return m;
}

std::string manifest_json(const Manifest& m, const BackupResult& r) {
  JsonWriter w;
  w.begin_object().field("format", kManifestFormat).field("store", m.store).field("created_unix", r.created_unix);
  w.field("checkpoint_lsn", m.checkpoint_lsn).field("durable_lsn", r.durable_lsn);
  w.field("incremental", r.incremental).field("bytes_shipped", r.bytes_shipped).key("files").begin_object();
  for (const auto& [rel, e] : m.files) {
    w.key(rel).begin_object().field("bytes", e.bytes).field("sha256", e.sha256);
    if (e.first_lsn) w.field("first_lsn", *e.first_lsn);
    if (e.lsn) w.field("lsn", *e.lsn);
    w.end_object();
  }
  w.end_object().field("writer", "engramd").end_object();
  return w.take();
}

// Copies the first `limit` bytes of src (all when nullopt) to staged (synced, not yet renamed into
// place); returns the entry (bytes and SHA-256). StorageError when src is shorter.
FileEntry copy_prefix(Env& env, const std::string& src, const std::string& staged, std::optional<std::uint64_t> limit) {
  const std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!md || EVP_DigestInit_ex(md.get(), EVP_sha256(), nullptr) != 1) throw StorageError("SHA-256 unavailable");
  std::uint64_t done = 0;
  {
    const auto out = env.create_file(staged);
    while (!limit || done < *limit) {
      const std::size_t want =
          limit ? static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, *limit - done)) : kChunk;
      const std::string chunk = env.read_range(src, done, want);
      if (chunk.empty()) break;
      out->write_at(done, chunk);
      if (EVP_DigestUpdate(md.get(), chunk.data(), chunk.size()) != 1) throw StorageError("SHA-256 failed");
      done += chunk.size();
    }
    out->sync();
    out->close();
  }
  if (limit && done != *limit) {
    throw StorageError(src + " has " + std::to_string(done) + " bytes; expected at least " + std::to_string(*limit));
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  if (EVP_DigestFinal_ex(md.get(), digest, &n) != 1) throw StorageError("SHA-256 failed");
  FileEntry e;
  e.bytes = done;
  e.sha256 = hex(digest, n);
  return e;
}

// Staged copies (*.part) not yet renamed into place; removed when a run fails before the renames.
class Staging {
 public:
  explicit Staging(Env& env) : env_(env) {}
  Staging(const Staging&) = delete;
  Staging& operator=(const Staging&) = delete;
  ~Staging() {
    for (const auto& [part, final_path] : files_) {
      try {
        env_.remove_file(part);
      } catch (const std::exception&) {  // best effort: a stray .part is removed by the next run
      }
    }
  }
  std::string add(const std::string& final_path) {
    files_.emplace_back(final_path + ".part", final_path);
    return files_.back().first;
  }
  // Renames every staged file into place (all copies succeeded).
  void commit() {
    for (const auto& [part, final_path] : files_) env_.rename(part, final_path);
    files_.clear();
  }

 private:
  Env& env_;
  std::vector<std::pair<std::string, std::string>> files_;
};

// Whether the backup's WAL chain continues into the store's segments: the store still has the
// segment that was live at the last backup (or an earlier one).
bool chain_ok(const Manifest& prev, const std::vector<Wal::SegmentExtent>& segments) {
  std::uint64_t newest = 0;
  bool any = false;
  for (const auto& [rel, e] : prev.files) {
    if (e.first_lsn) {
      newest = std::max(newest, *e.first_lsn);
      any = true;
    }
  }
  return any && !segments.empty() && segments.front().first_lsn <= newest;
}

struct Copy {
  std::string src, rel;
  std::optional<std::uint64_t> limit;
  std::optional<std::uint64_t> first_lsn, lsn;
};

BackupResult back_up_once(Engine& engine, Env& env, const std::string& dest, bool full) {
  const auto t0 = std::chrono::steady_clock::now();
  env.create_dir(dest);  // false when it exists
  env.create_dir(dest + "/wal");
  std::optional<Manifest> prev = full ? std::nullopt : read_manifest(env, dest);
  const std::string src = std::filesystem::canonical(engine.store_path()).string();
  engine.sync_wal();
  BackupResult r;
  r.path = dest;
  r.durable_lsn = engine.wal_stats().durable_lsn;  // before listing: every segment holds at least this
  const std::vector<Wal::SegmentExtent> segments = engine.wal_segments();
  // A backup chain never crosses a format conversion (docs/format.md, Migration): the chain's
  // FORMAT must be the store's, else this backup starts a new chain.
  const bool same_format =
      env.exists(dest + "/FORMAT") && env.read_file(dest + "/FORMAT") == env.read_file(engine.store_path() + "/FORMAT");
  r.incremental = prev && prev->store == src && same_format && chain_ok(*prev, segments);
  Manifest m;
  m.store = src;
  std::vector<Copy> copies;
  if (r.incremental) {
    m.files = prev->files;
    m.checkpoint_lsn = prev->checkpoint_lsn;
  } else {
    // A full backup starts at the oldest retained checkpoint (the WAL is kept from there on),
    // so a restore can stop at any LSN after it; without one the whole WAL from LSN 1 ships.
    const std::vector<CheckpointFile> ckpts = engine.checkpoints();  // ascending LSN
    if (!ckpts.empty()) {
      m.checkpoint_lsn = ckpts.front().lsn;
      copies.push_back(
          {ckpts.front().path, base_name(ckpts.front().path), std::nullopt, std::nullopt, ckpts.front().lsn});
    }
  }
  for (const Wal::SegmentExtent& s : segments) {
    const std::string rel = "wal/" + base_name(s.path);
    if (auto it = m.files.find(rel); it != m.files.end() && it->second.bytes == s.bytes) continue;
    copies.push_back({s.path, rel, s.bytes, s.first_lsn, std::nullopt});
  }
  // Every copy is staged first and renamed into place only when all succeeded: a run that fails
  // midway leaves the previous backup's files and manifest as they were (still verifiable).
  Staging staging(env);
  for (const Copy& c : copies) {
    FileEntry e = copy_prefix(env, c.src, staging.add(dest + "/" + c.rel), c.limit);
    e.first_lsn = c.first_lsn;
    e.lsn = c.lsn;
    r.bytes_shipped += e.bytes;
    ++r.files_shipped;
    m.files[c.rel] = std::move(e);
  }
  env.write_whole_file(staging.add(dest + "/FORMAT"), env.read_file(engine.store_path() + "/FORMAT"), true);
  staging.commit();
  env.sync_dir(dest + "/wal");
  r.created_unix = unix_now();
  env.write_whole_file(dest + "/manifest.json.tmp", manifest_json(m, r), true);
  env.rename(dest + "/manifest.json.tmp", dest + "/manifest.json");
  env.sync_dir(dest);
  // An older chain's files (a full backup over an earlier one) and stray staged copies go once
  // the new manifest is in place.
  for (const std::string& name : env.list_dir(dest)) {
    if (name.starts_with("checkpoint-") && !m.files.contains(name)) env.remove_file(dest + "/" + name);
  }
  for (const std::string& name : env.list_dir(dest + "/wal")) {
    if (!m.files.contains("wal/" + name)) env.remove_file(dest + "/wal/" + name);
  }
  r.checkpoint_lsn = m.checkpoint_lsn;
  r.files = m.files.size();
  for (const auto& [rel, e] : m.files) r.bytes_total += e.bytes;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace

bool valid_backup_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > 128) return false;
  const auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
  if (!alnum(name.front())) return false;
  return std::all_of(name.begin(), name.end(), [&](char c) { return alnum(c) || c == '.' || c == '_' || c == '-'; });
}

BackupResult back_up(Engine& engine, const std::string& dest, bool full) {
  if (!engine.durable())
    throw StorageError("this server's engine is in memory (--in-memory); it has no store to back up");
  Env& env = Env::default_env();
  // A checkpoint may delete a segment or checkpoint between listing and copying: start over
  // (the next listing no longer names it), at most three times.
  for (int attempt = 1;; ++attempt) {
    try {
      return back_up_once(engine, env, dest, full);
    } catch (const IoError& e) {
      if (e.code() != ENOENT || attempt == 3) throw;
    }
  }
}

void BackupRunner::end(bool ok, const BackupResult* r) noexcept {
  const double now = unix_now();
  if (ok) {
    ok_.fetch_add(1, std::memory_order_relaxed);
    last_ok_unix_.store(now, std::memory_order_relaxed);
    if (r) {
      bytes_.fetch_add(r->bytes_shipped, std::memory_order_relaxed);
      last_seconds_.store(r->seconds, std::memory_order_relaxed);
    }
  } else {
    failed_.fetch_add(1, std::memory_order_relaxed);
    last_failed_unix_.store(now, std::memory_order_relaxed);
  }
  busy_.store(false, std::memory_order_release);
}

}  // namespace engram::server
