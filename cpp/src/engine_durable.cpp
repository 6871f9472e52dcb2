// Engine methods for durability: recovery, replay routing, checkpoints (engine.hpp). What is
// read and written is specified in docs/format.md; all file I/O goes through the store's Env.
#include <chrono>
#include <shared_mutex>

#include "engram/engine.hpp"
#include "engram/errors.hpp"
#include "engram/fault.hpp"
#include "engram/migrate.hpp"
#include "engram/store.hpp"

namespace engram {
namespace {

// Thrown from the replay callback to stop at a point-in-time bound.
struct StopReplay {};
// A record that passed its checksums but cannot be applied (a writer bug, a foreign file).
struct BadRecord {
  std::uint64_t lsn;
  std::string why;
};

}  // namespace

void Engine::apply_record(RecordType type, std::string_view payload) {
  Decoder in(payload);
  const auto find_ordinal = [&](std::uint32_t ord) NO_THREAD_SAFETY_ANALYSIS -> std::shared_ptr<Space> {
    for (const auto& [n, s] : spaces_) {
      if (s->ordinal() == ord) return s;
    }
    return nullptr;
  };
  switch (type) {
    case RecordType::CreateSpace: {
      const auto ord = in.get<std::uint32_t>();
      const std::string name = in.get_str();
      const SpaceConfig cfg = Space::decode_config(in);
      if (!in.done()) throw CorruptionError("create_space record has trailing bytes");
      if (spaces_.count(name) != 0 || find_ordinal(ord)) {
        throw CorruptionError("create_space record for '" + name + "' (ordinal " + std::to_string(ord) +
                              ") but the space already exists");
      }
      auto sp = std::make_shared<Space>(name, ord, cfg, clock_);
      sp->set_features(features_);
      sp->set_memory_governor(memory_);
      sp->set_idempotency_capacity(config_.idempotency_capacity);
      spaces_.emplace(name, sp);
      next_ordinal_ = std::max(next_ordinal_, ord + 1);
      return;
    }
    case RecordType::DropSpace: {
      const auto ord = in.get<std::uint32_t>();
      for (auto it = spaces_.begin(); it != spaces_.end(); ++it) {
        if (it->second->ordinal() == ord) {
          it->second->mark_dropped();
          spaces_.erase(it);
          break;
        }
      }
      return;
    }
    case RecordType::Features: decode_features(*features_, in, read_major_); return;
    case RecordType::EngineState: {
      next_ordinal_ = std::max(next_ordinal_, in.get<std::uint32_t>());
      return;
    }
    default: {
      const auto ord = in.get<std::uint32_t>();
      if (auto sp = find_ordinal(ord)) sp->replay(type, in, read_major_);  // else: dropped later in the log
      return;
    }
  }
}

void Engine::open_store(StoreOptions options) { open_store_impl(std::move(options), 0); }

void Engine::open_store_for_migration(StoreOptions options, std::uint32_t major) {
  if (major < kOldestFormatVersion || major > kFormatVersion) {
    throw UnsupportedFormatError("no reader for store format " + std::to_string(major));
  }
  options.checkpoint_interval_s = 0.0;
  options.checkpoint_wal_bytes = 0;
  open_store_impl(std::move(options), major);
}

void Engine::open_store_impl(StoreOptions options, std::uint32_t migration_major) {
  if (wal_) throw EngramError("the engine already has a store open");
  validate(options);
  // Recovery fills spaces_ without spaces_mu_ (apply_record); the memory monitor waits meanwhile.
  MutexLock no_sampling(sample_mu_);
  const auto t0 = std::chrono::steady_clock::now();
  ENGRAM_FAULT_SITE("recovery.start");  // test build only: a slow recovery (monitoring's WalRecoveryInProgress)
  store_ = options;
  const std::string dir = options.path;
  Env& env = this->env();
  RecoveryInfo info;
  info.durable = true;
  if (migration_major != 0) {
    read_major_ = migration_major;  // the migrator's read: its Env changes nothing, no lock (it holds it)
  } else {
    std::uint32_t major = prepare_store(env, dir);
    lock_ = lock_store(env, dir);
    try {
      // A migration a crash interrupted is finished (committed) or cleared away (not committed).
      if (resume_migration(env, dir)) major = read_format_version(env, dir);
      if (major != kFormatVersion) {
        if (!options.migrate) {
          throw UnsupportedFormatError(
              "store " + dir + " is in format " + std::to_string(major) + "; this build reads format " +
              std::to_string(kFormatVersion) + ". Nothing was changed. Convert it in place with `engram migrate " +
              dir +
              "` (a dry run first: --dry-run), or open it with migrate=True (engramd --migrate), which converts it " +
              "as it opens; docs/format.md, Migration");
        }
        MigrationOptions mo;
        mo.path = dir;
        mo.to = kFormatVersion;
        mo.progress = options.migrate_progress;
        mo.env = options.env;
        mo.until_lsn = options.until_lsn;  // a point-in-time restore of an older backup
        mo.until_time_ns = options.until_time_ns;
        const MigrationReport rep = migrate_locked(mo, config_);
        info.migrated_from = rep.from;
        info.migration_s = rep.seconds;
      }
    } catch (...) {
      lock_.reset();
      throw;
    }
    read_major_ = kFormatVersion;
  }
  {
    const PreviousRun prev = read_previous_run(env, dir);  // before the marker is rewritten below
    info.unclean_shutdown = prev.unclean;
    info.previous_pid = prev.pid;
    info.crash_phase = prev.phase;
  }
  try {
    // 1. The newest checkpoint that passes its checksums; damaged ones go to quarantine.
    auto ckpts = list_checkpoints(env, dir);
    for (auto it = ckpts.rbegin(); it != ckpts.rend(); ++it) {
      std::string data;
      CheckpointHeader hdr;
      std::string_view body;
      try {
        data = env.read_file(it->path);
        body = check_checkpoint(data, it->path, hdr, read_major_);
        // Every record checked before any is applied: an unknown one refuses or quarantines whole.
        const ScanResult s = scan_frames(body, 0, 1, [&](const FrameHeader& h, std::string_view) {
          check_unknown_record(h, hdr.minor, it->path, read_major_);
        });
        if (s.status != ScanResult::Status::Ok) {
          throw CorruptionError(it->path + ": checkpoint record at body offset " + std::to_string(s.error_offset) +
                                ": " + s.error);
        }
      } catch (const CorruptionError& e) {
        ++info.corruptions;
        const std::string q = quarantine_file(env, dir, it->path, 0, e.what(), false);
        info.events.push_back({"corruption", it->path, 0, e.what(), q});
        continue;
      }
      scan_frames(body, 0, 1, [&](const FrameHeader& h, std::string_view p) {
        if (is_known_record_type(static_cast<std::uint16_t>(h.type))) {
          apply_record(h.type, p);
        } else {
          ++info.records_skipped;
        }
      });
      info.checkpoint_lsn = hdr.lsn;
      break;
    }
    // 2. WAL records after the checkpoint, in LSN order.
    const auto segs = list_segments(env, dir + "/wal");
    std::uint64_t expect = 0;  // next LSN the log must hold (0: not started)
    std::uint64_t last = info.checkpoint_lsn;
    bool stopped = false;  // corruption, gap or point-in-time bound: later segments are not used
    for (std::size_t i = 0; i < segs.size(); ++i) {
      const SegmentFile& s = segs[i];
      const bool is_last = i + 1 == segs.size();
      if (stopped) {
        if (!store_.until_lsn && !store_.until_time_ns) {
          ++info.corruptions;
          const std::string why = "follows a damaged or missing part of the log; its records cannot be applied";
          info.events.push_back({"corruption", s.path, 0, why, quarantine_file(env, dir, s.path, 0, why, false)});
        }
        continue;
      }
      // Segments wholly covered by the checkpoint are skipped unread.
      if (!is_last && segs[i + 1].first_lsn <= info.checkpoint_lsn + 1) continue;
      std::string data;
      SegmentHeader hdr;
      try {
        data = env.read_file(s.path);
        hdr = check_segment_header(data, s.path, read_major_);
        if (hdr.first_lsn != s.first_lsn) {
          throw CorruptionError(s.path + ": header first LSN does not match the file name");
        }
      } catch (const CorruptionError& e) {
        if (is_last && data.size() < kSegmentHeaderBytes) {  // crash while creating the segment
          env.remove_file(s.path);
          env.sync_dir(dir + "/wal");
          ++info.torn_tails;
          info.events.push_back({"torn_tail", s.path, 0, e.what(), ""});
          continue;
        }
        ++info.corruptions;
        info.events.push_back(
            {"corruption", s.path, 0, e.what(), quarantine_file(env, dir, s.path, 0, e.what(), false)});
        stopped = true;
        continue;
      }
      const std::uint64_t first = hdr.first_lsn;
      if (expect == 0 && first > info.checkpoint_lsn + 1) {
        const std::string why = "LSNs " + std::to_string(info.checkpoint_lsn + 1) + ".." + std::to_string(first - 1) +
                                " are in neither a checkpoint nor a WAL segment";
        ++info.corruptions;
        info.events.push_back({"gap", s.path, 0, why, ""});
      } else if (expect != 0 && first != expect) {
        const std::string why =
            "LSN gap: expected a segment starting at " + std::to_string(expect) + ", found " + std::to_string(first);
        ++info.corruptions;
        info.events.push_back({"gap", s.path, 0, why, quarantine_file(env, dir, s.path, 0, why, false)});
        stopped = true;
        continue;
      }
      std::uint64_t offset_now = kSegmentHeaderBytes;
      ScanResult sc;
      try {
        sc = scan_frames(data, kSegmentHeaderBytes, first, [&](const FrameHeader& h, std::string_view p) {
          if (h.lsn > info.checkpoint_lsn) {
            if ((store_.until_lsn && h.lsn > *store_.until_lsn) ||
                (store_.until_time_ns && h.timestamp_ns > *store_.until_time_ns)) {
              throw StopReplay{};
            }
            bool known = true;
            try {
              known = check_unknown_record(h, hdr.minor, s.path, read_major_);  // UnsupportedFormatError propagates
              if (known) apply_record(h.type, p);
            } catch (const UnsupportedFormatError&) {
              throw;
            } catch (const EngramError& e) {
              throw BadRecord{h.lsn, e.what()};
            }
            ++(known ? info.records_replayed : info.records_skipped);
            last = h.lsn;
          }
          offset_now += kFrameOverhead + h.length;
        });
      } catch (const StopReplay&) {
        stopped = true;
        continue;
      } catch (const BadRecord& bad) {
        // Checksums passed but the record cannot be applied: treat it as corruption there.
        ++info.corruptions;
        const std::string why = "record LSN " + std::to_string(bad.lsn) + " cannot be applied: " + bad.why +
                                "; it and everything after it were not applied";
        const std::string q = quarantine_file(env, dir, s.path, offset_now, why, true);
        env.truncate_file(s.path, offset_now);
        env.sync_file(s.path);
        info.events.push_back({"corruption", s.path, offset_now, why, q});
        stopped = true;
        continue;
      }
      if (sc.records > 0) last = std::max(last, sc.last_lsn);
      expect = sc.records > 0 ? sc.last_lsn + 1 : first;
      if (sc.status == ScanResult::Status::Ok) continue;
      if (sc.status == ScanResult::Status::TornTail && is_last) {
        // A crash cut the last write short: it was never acknowledged. Cut it off.
        // Durably: the next segment follows this one, and a torn tail reappearing in a segment
        // that is no longer the last would read as corruption.
        env.truncate_file(s.path, sc.valid_end);
        env.sync_file(s.path);
        ++info.torn_tails;
        info.events.push_back({"torn_tail", s.path, sc.error_offset,
                               sc.error + "; " + std::to_string(data.size() - sc.valid_end) + " bytes cut off", ""});
        continue;
      }
      // Corruption: keep a copy of the whole segment aside, cut the original to its valid prefix.
      ++info.corruptions;
      const std::string why = sc.error + "; " + std::to_string(data.size() - sc.valid_end) +
                              " bytes from this offset (records after LSN " + std::to_string(expect - 1) +
                              ") were not applied";
      const std::string q = quarantine_file(env, dir, s.path, sc.error_offset, why, true);
      env.truncate_file(s.path, sc.valid_end);
      env.sync_file(s.path);
      info.events.push_back({"corruption", s.path, sc.error_offset, why, q});
      stopped = true;
    }
    std::vector<std::shared_ptr<Space>> recovered;  // checked below, after spaces_mu_ (lock order)
    {  // spaces_mu_ is released before the concept checks below (lock order, engine.hpp)
      WriterLock lock(spaces_mu_);
      for (auto& [n, sp] : spaces_) {
        sp->finish_restore();
        recovered.push_back(sp);
      }
      info.last_lsn = last;
      const bool pitr = store_.until_lsn || store_.until_time_ns;
      if (pitr) {
        // The state is now the requested point: make it the checkpoint and drop the whole log,
        // whose later records would otherwise be replayed on the next open.
        write_checkpoint_file(env, dir, last, snapshot_locked());
        for (const SegmentFile& s : list_segments(env, dir + "/wal")) env.remove_file(s.path);
        for (const CheckpointFile& c : list_checkpoints(env, dir)) {
          if (c.lsn != last) env.remove_file(c.path);
        }
        env.sync_dir(dir + "/wal");
        env.sync_dir(dir);
        info.checkpoint_lsn = last;
      } else {
        // Segments past the end of the valid log (after a torn header) would collide with new LSNs.
        bool removed = false;
        for (const SegmentFile& s : list_segments(env, dir + "/wal")) {
          if (s.first_lsn > last + 1) {
            env.remove_file(s.path);
            removed = true;
          }
        }
        if (removed) env.sync_dir(dir + "/wal");
      }
      WalOptions wo;
      wo.mode = store_.durability;
      wo.segment_bytes = store_.segment_bytes;
      wo.flush_interval_s = store_.flush_interval_s;
      wo.disk_full_fraction = store_.disk_full_fraction;
      wal_ = std::make_shared<Wal>(env, dir + "/wal", wo, last + 1);
      marker_ = std::make_shared<RunMarker>(env, dir + "/LOCK");
      for (auto& [n, sp] : spaces_) {
        sp->set_wal(wal_);
        sp->set_run_marker(marker_);
      }
    }
    for (const auto& sp : recovered) {
      const IntegrityReport c = sp->check_concepts();
      info.orphaned_concepts += c.orphaned_concepts;
      info.partial_bindings += c.one_sided_bindings;
    }
  } catch (...) {
    lock_.reset();
    throw;
  }
  last_checkpoint_lsn_.store(info.checkpoint_lsn);
  last_checkpoint_s_.store(std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count());
  info.duration_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  recovery_ = std::move(info);
  if (migration_major == 0 && (store_.checkpoint_interval_s > 0.0 || store_.checkpoint_wal_bytes > 0)) {
    checkpointer_ = std::jthread([this](std::stop_token st) { checkpoint_loop(std::move(st)); });
  }
}

std::string Engine::snapshot_locked(std::uint32_t major) const {
  std::string out;
  std::uint64_t seq = 0;
  {
    Encoder e;
    e.put<std::uint32_t>(next_ordinal_);
    encode_frame(out, RecordType::EngineState, ++seq, 0, e.str());
  }
  encode_frame(out, RecordType::Features, ++seq, 0, encode_features(*features_, major));
  for (const auto& [n, sp] : spaces_) sp->snapshot(out, seq, major);
  return out;
}

std::string Engine::content_snapshot(std::uint32_t major) const {
  std::unique_lock<SharedMutex> gate;
  if (wal_) gate = std::unique_lock(wal_->gate());
  ReaderLock lock(spaces_mu_);
  return snapshot_locked(major);
}

std::uint64_t Engine::checkpoint() {
  ensure_open();
  if (!wal_) throw StorageError("checkpoint() needs a durable engine; this one is in memory (path=None)");
  MutexLock cl(checkpoint_mu_);
  try {
    return write_checkpoint_locked();
  } catch (...) {
    checkpoint_failures_.fetch_add(1, std::memory_order_relaxed);
    throw;
  }
}

std::uint64_t Engine::write_checkpoint_locked() {
  std::string body;
  std::uint64_t lsn = 0;
  {
    std::unique_lock gate(wal_->gate());
    ReaderLock lock(spaces_mu_);
    lsn = wal_->last_lsn();
    body = snapshot_locked();
  }
  wal_->sync();  // the checkpoint never gets ahead of the log it replaces
  write_checkpoint_file(env(), store_.path, lsn, body);
  // Keep the two newest checkpoints, and the WAL from the older one on, so a damaged newest
  // checkpoint still recovers completely from its predecessor.
  auto ckpts = list_checkpoints(env(), store_.path);
  while (ckpts.size() > 2) {
    try {
      env().remove_file(ckpts.front().path);
    } catch (const IoError&) {  // an extra old checkpoint is harmless; the next checkpoint retries
    }
    ckpts.erase(ckpts.begin());
  }
  wal_->remove_segments_before(ckpts.front().lsn + 1);
  wal_->reset_checkpoint_bytes();
  checkpoints_.fetch_add(1, std::memory_order_relaxed);
  last_checkpoint_lsn_.store(lsn, std::memory_order_relaxed);
  last_checkpoint_s_.store(std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count());
  return lsn;
}

void Engine::checkpoint_loop(std::stop_token st) {
  while (!st.stop_requested()) {
    {
      std::unique_lock lock(checkpointer_mu_);
      checkpointer_cv_.wait_for(lock, st, std::chrono::milliseconds(200), [] { return false; });
    }
    if (st.stop_requested()) break;
    const double now = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
    const WalStats ws = wal_->stats();
    const bool by_time = store_.checkpoint_interval_s > 0.0 &&
                         now - last_checkpoint_s_.load() >= store_.checkpoint_interval_s &&
                         ws.last_lsn > last_checkpoint_lsn_.load();
    const bool by_size = store_.checkpoint_wal_bytes > 0 && ws.bytes_since_checkpoint >= store_.checkpoint_wal_bytes;
    if (!by_time && !by_size) continue;
    try {
      checkpoint();
    } catch (...) {                   // counted in checkpoint_failures_; the WAL still holds everything
      last_checkpoint_s_.store(now);  // retry after another interval, not in a tight loop
    }
  }
}

WalStats Engine::wal_stats() const {
  if (!wal_) return {};
  return wal_->stats();
}

std::vector<Wal::SegmentExtent> Engine::wal_segments() {
  if (!wal_) throw StorageError("this engine is in memory (path=None); it has no WAL");
  return wal_->durable_segments();
}

std::vector<CheckpointFile> Engine::checkpoints() const {
  if (!wal_) throw StorageError("this engine is in memory (path=None); it has no checkpoints");
  return list_checkpoints(env(), store_.path);
}

void Engine::sync_wal() {
  if (wal_) wal_->sync();
}

void Engine::durability_metrics(std::ostream& out) const {
  if (!wal_) return;
  const WalStats w = wal_->stats();
  const RecoveryInfo& r = recovery_;
  const auto metric = [&](const char* name, const char* type, const char* help, auto value) {
    out << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n"
        << name << " " << value << "\n";
  };
  metric("engram_wal_recovery_duration_seconds", "gauge", "Duration of the recovery when the store was opened.",
         r.duration_s);
  metric("engram_wal_entries_replayed_total", "counter", "WAL records replayed by recovery.", r.records_replayed);
  metric("engram_wal_torn_tails_truncated_total", "counter", "Torn WAL tails cut off by recovery.", r.torn_tails);
  metric("engram_corruption_detected_total", "counter", "Damaged WAL segments or checkpoints detected.", r.corruptions);
  // One series, at open, when the previous process did not close the store: labelled with the
  // phase it last recorded (a consolidation step's crash point, or "serving").
  out << "# HELP engram_crash_detected_total Unclean shutdowns of the previous process found at open, by the phase it "
         "was in.\n# TYPE engram_crash_detected_total counter\n";
  if (r.unclean_shutdown) {
    out << "engram_crash_detected_total{crash_point=\"" << (r.crash_phase.empty() ? "unknown" : r.crash_phase)
        << "\"} 1\n";
  }
  metric("engram_orphaned_concepts_detected_total", "counter", "Concepts without a binding found after recovery.",
         r.orphaned_concepts);
  metric("engram_partial_bindings_detected_total", "counter",
         "Bindings present on one side only (concept or episode) found after recovery.", r.partial_bindings);
  metric("engram_wal_appends_total", "counter", "Records appended to the WAL.", w.appends);
  metric("engram_wal_bytes_written_total", "counter", "Bytes written to WAL segments.", w.bytes_written);
  metric("engram_wal_syncs_total", "counter", "WAL write+fdatasync batches.", w.syncs);
  metric("engram_wal_storage_errors_total", "counter", "WAL writes that failed (disk full, I/O error).",
         w.storage_errors);
  metric("engram_wal_disk_full_refusals_total", "counter",
         "Writes refused by the disk guard: the WAL's file system at or above disk_full_fraction.",
         w.disk_full_refusals);
  metric("engram_wal_disk_used_ratio", "gauge", "Fill of the WAL's file system at the disk guard's last check.",
         w.disk_used);
  metric("engram_wal_last_lsn", "gauge", "LSN of the last appended record.", w.last_lsn);
  metric("engram_wal_durable_lsn", "gauge", "LSN up to which the WAL is durable.", w.durable_lsn);
  metric("engram_checkpoints_total", "counter", "Checkpoints written.", checkpoints_.load());
  metric("engram_checkpoint_failures_total", "counter", "Checkpoints that failed.", checkpoint_failures_.load());
  metric("engram_checkpoint_last_lsn", "gauge", "LSN of the newest checkpoint.", last_checkpoint_lsn_.load());
}

}  // namespace engram
