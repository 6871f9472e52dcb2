// The store migrator (migrate.hpp; docs/format.md, "Migration").
#include "engram/migrate.hpp"

#include <chrono>
#include <cinttypes>
#include <cstdio>

#include "engram/crash.hpp"
#include "engram/engine.hpp"
#include "engram/errors.hpp"
#include "engram/store.hpp"
#include "engram/validation.hpp"

namespace engram {
namespace {

const char* const kMarker = "MIGRATION";  // the commit: "engram-migration\nto=<major>\nlsn=<lsn>\n"

std::string staged_name(std::uint64_t lsn) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "migration-%020" PRIu64 ".ckpt", lsn);
  return buf;
}

// Writes nothing: every change is dropped, reads go to the real file system. The migrator reads
// a store through it, so that recovery (which cuts torn tails and quarantines damage) changes
// nothing in the source until the conversion commits. Counts the bytes read, for progress.
class DiscardFile final : public WritableFile {
 public:
  explicit DiscardFile(std::string path) : path_(std::move(path)) {}
  const std::string& path() const noexcept override { return path_; }
  void write_at(std::uint64_t, std::string_view) override {}
  void sync() override {}
  void truncate(std::uint64_t) override {}
  void close() override {}

 private:
  std::string path_;
};

class ReadOnlyEnv final : public Env {
 public:
  ReadOnlyEnv(Env& base, std::function<void(std::uint64_t)> on_read) : base_(base), on_read_(std::move(on_read)) {}
  std::unique_ptr<WritableFile> create_file(const std::string& path) override {
    return std::make_unique<DiscardFile>(path);
  }
  std::string read_file(const std::string& path) override {
    std::string data = base_.read_file(path);
    if (on_read_) on_read_(data.size());
    return data;
  }
  std::string read_range(const std::string& path, std::uint64_t offset, std::size_t n) override {
    return base_.read_range(path, offset, n);
  }
  bool exists(const std::string& path) override { return base_.exists(path); }
  bool is_directory(const std::string& path) override { return base_.is_directory(path); }
  std::uint64_t file_size(const std::string& path) override { return base_.file_size(path); }
  std::vector<std::string> list_dir(const std::string& dir) override { return base_.list_dir(dir); }
  bool create_dir(const std::string&) override { return false; }
  void sync_dir(const std::string&) override {}
  void rename(const std::string&, const std::string&) override {}
  void remove_file(const std::string&) override {}
  void truncate_file(const std::string&, std::uint64_t) override {}
  void sync_file(const std::string&) override {}
  std::unique_ptr<FileLock> lock_file(const std::string& path) override {
    throw StorageError("the migrator's read-only view cannot lock " + path);
  }
  DiskSpace disk_space(const std::string& path) override { return base_.disk_space(path); }

 private:
  Env& base_;
  std::function<void(std::uint64_t)> on_read_;
};

std::uint64_t store_bytes(Env& env, const std::string& store) {
  std::uint64_t total = 0;
  for (const CheckpointFile& c : list_checkpoints(env, store)) total += env.file_size(c.path);
  for (const SegmentFile& s : list_segments(env, store + "/wal")) total += env.file_size(s.path);
  return total;
}

void report(const MigrationProgressFn& fn, const char* phase, std::uint64_t done, std::uint64_t total) {
  if (fn) fn(MigrationProgress{phase, done, total});
}

struct Marker {
  std::uint32_t to = 0;
  std::uint64_t lsn = 0;
};

Marker read_marker(Env& env, const std::string& store) {
  const std::string path = store + "/" + kMarker;
  const std::string text = env.read_file(path);
  Marker m;
  unsigned long long to = 0, lsn = 0;
  if (std::sscanf(text.c_str(), "engram-migration\nto=%llu\nlsn=%llu\n", &to, &lsn) != 2 || to < kOldestFormatVersion ||
      to > kFormatVersion) {
    throw StorageError(path + " is not a migration marker this build wrote (" + preview(text, 64) +
                       "); remove nothing and report it: the store is between two formats");
  }
  m.to = static_cast<std::uint32_t>(to);
  m.lsn = lsn;
  return m;
}

// The switch after the commit (docs/format.md, "Migration"): the staged checkpoint takes its
// place first (so a reader of the old format that opens a half-switched store finds a checkpoint
// of another major version and refuses, never an empty store), then the source's checkpoints and
// segments go, then FORMAT names the new version, and MIGRATION goes last. Every step can be
// repeated, so a crash anywhere in it is finished by the next open.
void finish(Env& env, const std::string& store, const MigrationProgressFn& progress) {
  const Marker m = read_marker(env, store);
  const std::string staged = store + "/" + staged_name(m.lsn);
  const std::string final_path = store + "/" + checkpoint_name(m.lsn);
  if (env.exists(staged)) {
    env.rename(staged, final_path);
    env.sync_dir(store);
  }
  if (!env.exists(final_path)) {
    throw StorageError("the migration marker of " + store + " names " + final_path +
                       ", which is missing: the store is between two formats; restore it from a backup");
  }
  crash_point("migration.mid_switch");
  std::vector<std::string> old;
  for (const CheckpointFile& c : list_checkpoints(env, store)) {
    if (c.path != final_path) old.push_back(c.path);
  }
  for (const SegmentFile& s : list_segments(env, store + "/wal")) old.push_back(s.path);
  std::uint64_t done = 0;
  for (const std::string& path : old) {
    env.remove_file(path);
    report(progress, "switch", ++done, old.size() + 1);
  }
  env.sync_dir(store + "/wal");
  env.sync_dir(store);
  write_format_file(env, store, m.to);
  env.remove_file(store + "/" + kMarker);
  env.sync_dir(store);
  report(progress, "switch", old.size() + 1, old.size() + 1);
}

}  // namespace

MigrationProgressFn every_tenth(MigrationProgressFn fn) {
  return [fn = std::move(fn), phase = std::string(), tenth = -1](const MigrationProgress& p) mutable {
    const int now = p.total == 0 ? 10 : static_cast<int>(10 * p.done / p.total);
    if (p.phase == phase && now == tenth) return;
    phase = p.phase;
    tenth = now;
    fn(p);
  };
}

bool resume_migration(Env& env, const std::string& store) {
  if (env.exists(store + "/" + kMarker)) {
    finish(env, store, {});
    return true;
  }
  // Not committed: the staged files are leftovers of a conversion that never happened.
  bool removed = false;
  for (const std::string& n : env.list_dir(store)) {
    if (n.rfind("migration-", 0) == 0 || n == std::string(kMarker) + ".tmp") {
      env.remove_file(store + "/" + n);
      removed = true;
    }
  }
  if (removed) env.sync_dir(store);
  return false;
}

MigrationReport migrate_locked(const MigrationOptions& options, const EngineConfig& config) {
  const auto t0 = std::chrono::steady_clock::now();
  if (options.to < kOldestFormatVersion || options.to > kFormatVersion) {
    throw InvalidInputError("the target format must be " + std::to_string(kOldestFormatVersion) + " to " +
                            std::to_string(kFormatVersion) + "; got " + std::to_string(options.to));
  }
  Env& env = options.env ? *options.env : Env::default_env();
  const std::string& dir = options.path;
  MigrationReport rep;
  rep.to = options.to;
  rep.dry_run = options.dry_run;
  if (options.dry_run) {
    if (env.exists(dir + "/" + kMarker)) {
      throw StorageError("store " + dir + " has an interrupted migration awaiting its switch; run the migration " +
                         "without --dry-run (or open the store) to finish it first");
    }
  } else {
    rep.resumed = resume_migration(env, dir);
  }
  rep.from = read_format_version(env, dir);
  const auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  if (rep.from == options.to) {
    rep.seconds = elapsed();
    return rep;
  }

  // 1. Read: the whole state, recovered as a build of the source format would, changing nothing.
  const std::uint64_t total = store_bytes(env, dir);
  report(options.progress, "read", 0, total);
  std::uint64_t read = 0;
  StoreOptions so;
  so.path = dir;
  so.durability = Durability::Fsync;  // no flusher thread; its writes are dropped anyway
  so.until_lsn = options.until_lsn;
  so.until_time_ns = options.until_time_ns;
  so.env = std::make_shared<ReadOnlyEnv>(env, [&](std::uint64_t n) {
    read += n;
    report(options.progress, "read", std::min(read, total), total);
  });
  EngineConfig cfg = config;
  cfg.memory = MemoryBudget{};  // no memory monitor for a conversion
  std::string body;
  {
    Engine src(cfg);
    src.open_store_for_migration(so, rep.from);
    const RecoveryInfo& ri = src.recovery_info();
    if (ri.corruptions > 0) {
      std::string what;
      for (const RecoveryEvent& e : ri.events) {
        if (e.kind != "torn_tail") what += "; " + e.file + " at " + std::to_string(e.offset) + ": " + e.detail;
      }
      throw StorageError("store " + dir + " has damage, so it was not converted (nothing was changed)" + what +
                         ". Open it with a build of format " + std::to_string(rep.from) +
                         " first (recovery quarantines the damage and keeps the valid prefix), or restore a backup");
    }
    if (ri.records_skipped > 0) {
      rep.blockers.push_back(std::to_string(ri.records_skipped) +
                             " records of a newer minor format were skipped while reading; converting would drop them");
    }
    rep.torn_tails = ri.torn_tails;
    rep.lsn = ri.last_lsn;
    if (options.to < 2) {
      for (const Feature f : kFeatures) {
        if (const auto st = src.features().rollout_stage(f)) {
          char pct[32];
          std::snprintf(pct, sizeof pct, "%.2f", st->percent);
          rep.blockers.push_back(std::string(feature_name(f)) + " has a rollout stage (" + pct + "%" +
                                 (st->shadow ? ", shadow" : "") + "), which format 1 cannot hold: end it (PUT " +
                                 "/admin/features {\"rollout\": {\"" + std::string(feature_name(f)) +
                                 "\": null}}, or finish it in the same call: {\"" + std::string(feature_name(f)) +
                                 "\": true, \"rollout\": {\"" + std::string(feature_name(f)) +
                                 "\": null}}), then roll back");
        }
      }
    }
    for (const auto& sp : src.spaces()) {
      const SpaceStats st = sp->stats();
      ++rep.spaces;
      rep.episodes += st.episodes;
      rep.concepts += st.concepts;
      rep.forgotten += st.forgotten;
    }
    body = src.content_snapshot(options.to);
    src.close();
  }
  rep.bytes_read = read;
  rep.checkpoint_bytes = kCheckpointHeaderBytes + body.size();
  if (options.dry_run) {
    rep.seconds = elapsed();
    return rep;
  }
  if (!rep.blockers.empty()) {
    std::string why;
    for (const std::string& b : rep.blockers) why += "; " + b;
    throw StorageError("store " + dir + " was not converted to format " + std::to_string(options.to) +
                       " (nothing was changed)" + why);
  }

  // 2. Write the new checkpoint under its staging name, then commit.
  const std::string file = encode_checkpoint_file(rep.lsn, body, options.to);
  body.clear();
  body.shrink_to_fit();
  report(options.progress, "write", 0, file.size());
  const std::string staged = dir + "/" + staged_name(rep.lsn);
  env.write_whole_file(staged + ".tmp", file, true);
  env.rename(staged + ".tmp", staged);
  env.sync_dir(dir);
  report(options.progress, "write", file.size(), file.size());
  crash_point("migration.before_commit");
  const std::string marker = dir + "/" + kMarker;
  env.write_whole_file(marker + ".tmp",
                       "engram-migration\nto=" + std::to_string(options.to) + "\nlsn=" + std::to_string(rep.lsn) + "\n",
                       true);
  env.rename(marker + ".tmp", marker);
  env.sync_dir(dir);
  crash_point("migration.after_commit");

  // 3. The switch.
  finish(env, dir, options.progress);
  rep.changed = true;
  rep.seconds = elapsed();
  return rep;
}

MigrationReport migrate_store(const MigrationOptions& options) {
  Env& env = options.env ? *options.env : Env::default_env();
  if (options.path.empty()) throw InvalidInputError("the store path must not be empty");
  if (!env.is_directory(options.path)) {
    throw StorageError("store " + options.path + " does not exist (or is not a directory)");
  }
  read_format_version(env, options.path);  // a clear error for a directory that is not a store
  const auto lock = lock_store(env, options.path);
  EngineConfig config;
  // Every key the store holds is kept (an engine that opens it applies its own capacity then).
  config.idempotency_capacity = std::size_t{1} << 26;
  return migrate_locked(options, config);
}

}  // namespace engram
