// Durable engines: methods of Engine (open a store, checkpoints, recovery report, WAL
// statistics and segments) and two module functions that need no engine (offline
// verification, CRC32C), with the value types they return. engram/durability wraps them.
#include <memory>
#include <optional>
#include <string>

#include "convert.hpp"
#include "engram/crc32c.hpp"
#include "engram/engine.hpp"
#include "engram/errors.hpp"
#include "engram/migrate.hpp"
#include "engram/store.hpp"
#include "register.hpp"

namespace engram::bind {

namespace {

Durability parse_durability(const std::string& s) {
  if (s == "fsync") return Durability::Fsync;
  if (s == "group") return Durability::Group;
  if (s == "none") return Durability::None;
  throw InvalidInputError("durability must be 'fsync', 'group' or 'none', got '" + s.substr(0, 40) + "'");
}

void register_values(py::module_& m) {
  py::class_<RecoveryEvent>(m, "RecoveryEvent", "Something recovery found and handled in one file.")
      .def_readonly("kind", &RecoveryEvent::kind, "'torn_tail', 'corruption' or 'gap'.")
      .def_readonly("file", &RecoveryEvent::file)
      .def_readonly("offset", &RecoveryEvent::offset)
      .def_readonly("detail", &RecoveryEvent::detail)
      .def_readonly("quarantined_to", &RecoveryEvent::quarantined_to, "Empty when nothing was moved.");

  py::class_<RecoveryInfo>(m, "RecoveryInfo", "What opening the store found.")
      .def_readonly("durable", &RecoveryInfo::durable)
      .def_readonly("duration_s", &RecoveryInfo::duration_s)
      .def_readonly("checkpoint_lsn", &RecoveryInfo::checkpoint_lsn)
      .def_readonly("records_replayed", &RecoveryInfo::records_replayed)
      .def_readonly("records_skipped", &RecoveryInfo::records_skipped,
                    "Records of a newer minor format version marked skippable (docs/format.md).")
      .def_readonly("last_lsn", &RecoveryInfo::last_lsn)
      .def_readonly("torn_tails", &RecoveryInfo::torn_tails)
      .def_readonly("corruptions", &RecoveryInfo::corruptions)
      .def_readonly("events", &RecoveryInfo::events)
      .def_readonly("unclean_shutdown", &RecoveryInfo::unclean_shutdown,
                    "The previous process did not close the store (it crashed or was killed).")
      .def_readonly("previous_pid", &RecoveryInfo::previous_pid, "Its pid (0: unknown or clean).")
      .def_readonly("crash_phase", &RecoveryInfo::crash_phase,
                    "The phase it last recorded: 'serving' or 'consolidation.<step>'.")
      .def_readonly("orphaned_concepts", &RecoveryInfo::orphaned_concepts,
                    "Concepts without a binding after replay (0 unless a record was applied in part).")
      .def_readonly("partial_bindings", &RecoveryInfo::partial_bindings,
                    "Bindings present on one side only after replay.")
      .def_readonly("migrated_from", &RecoveryInfo::migrated_from,
                    "The format the store was converted from as it opened (migrate=True); 0: none.")
      .def_readonly("migration_s", &RecoveryInfo::migration_s, "Seconds that conversion took.");

  py::class_<MigrationReport>(m, "MigrationReport", "What a store conversion did, or would do (dry run).")
      .def_readonly("from_format", &MigrationReport::from)
      .def_readonly("to_format", &MigrationReport::to)
      .def_readonly("dry_run", &MigrationReport::dry_run)
      .def_readonly("changed", &MigrationReport::changed)
      .def_readonly("resumed", &MigrationReport::resumed, "An interrupted conversion was finished first.")
      .def_readonly("lsn", &MigrationReport::lsn, "The state's last LSN: the new checkpoint's.")
      .def_readonly("spaces", &MigrationReport::spaces)
      .def_readonly("episodes", &MigrationReport::episodes)
      .def_readonly("concepts", &MigrationReport::concepts)
      .def_readonly("forgotten", &MigrationReport::forgotten)
      .def_readonly("bytes_read", &MigrationReport::bytes_read)
      .def_readonly("checkpoint_bytes", &MigrationReport::checkpoint_bytes)
      .def_readonly("torn_tails", &MigrationReport::torn_tails)
      .def_readonly("seconds", &MigrationReport::seconds)
      .def_readonly("blockers", &MigrationReport::blockers,
                    "Why the conversion cannot run without losing something; empty: it can.");

  py::class_<WalStats>(m, "WalStats", "Write-ahead log counters.")
      .def_readonly("appends", &WalStats::appends)
      .def_readonly("bytes_written", &WalStats::bytes_written)
      .def_readonly("syncs", &WalStats::syncs)
      .def_readonly("storage_errors", &WalStats::storage_errors)
      .def_readonly("segments_created", &WalStats::segments_created)
      .def_readonly("last_lsn", &WalStats::last_lsn)
      .def_readonly("durable_lsn", &WalStats::durable_lsn)
      .def_readonly("bytes_since_checkpoint", &WalStats::bytes_since_checkpoint)
      .def_readonly("failed", &WalStats::failed)
      .def_readonly("last_error", &WalStats::last_error);

  py::class_<Wal::SegmentExtent>(m, "WalSegment", "A WAL segment and its durable size.")
      .def_readonly("path", &Wal::SegmentExtent::path)
      .def_readonly("first_lsn", &Wal::SegmentExtent::first_lsn)
      .def_readonly("bytes", &Wal::SegmentExtent::bytes, "Durable bytes: the prefix a backup may copy.");

  py::class_<CheckpointFile>(m, "Checkpoint", "A checkpoint file of a store.")
      .def_readonly("lsn", &CheckpointFile::lsn, "The state it holds is as of this LSN.")
      .def_readonly("path", &CheckpointFile::path);

  py::class_<VerifyIssue>(m, "VerifyIssue", "One problem verify_store found.")
      .def_readonly("severity", &VerifyIssue::severity, "'error' or 'warning'.")
      .def_readonly("file", &VerifyIssue::file)
      .def_readonly("offset", &VerifyIssue::offset)
      .def_readonly("detail", &VerifyIssue::detail);

  py::class_<WalRecordInfo>(m, "WalRecord", "One WAL frame (inspect_wal); concept fields for ConceptCommit only.")
      .def_readonly("lsn", &WalRecordInfo::lsn)
      .def_property_readonly("type",
                             [](const WalRecordInfo& r) {
                               return is_known_record_type(r.type)
                                          ? std::string(record_type_name(static_cast<RecordType>(r.type)))
                                          : "unknown(" + std::to_string(r.type) + ")";
                             })
      .def_readonly("timestamp_ns", &WalRecordInfo::timestamp_ns)
      .def_readonly("segment", &WalRecordInfo::segment)
      .def_readonly("ordinal", &WalRecordInfo::ordinal)
      .def_readonly("concept_id", &WalRecordInfo::concept_id)
      .def_readonly("is_new", &WalRecordInfo::is_new)
      .def_readonly("members", &WalRecordInfo::members)
      .def_readonly("bindings", &WalRecordInfo::bindings, "Episode ids of the record's bindings.");

  py::class_<WalInspection>(m, "WalInspection", "Every frame of a store's WAL (inspect_wal).")
      .def_readonly("segments", &WalInspection::segments)
      .def_readonly("records", &WalInspection::records)
      .def_readonly("problems", &WalInspection::problems);

  py::class_<VerifyReport>(m, "VerifyReport", "What verify_store found.")
      .def_property_readonly("ok", &VerifyReport::ok)
      .def_readonly("checkpoints", &VerifyReport::checkpoints)
      .def_readonly("segments", &VerifyReport::segments)
      .def_readonly("records", &VerifyReport::records)
      .def_readonly("last_lsn", &VerifyReport::last_lsn)
      .def_readonly("issues", &VerifyReport::issues);
}

}  // namespace

void register_durability(py::module_& m) {
  register_values(m);
  auto engine = py::reinterpret_borrow<py::class_<Engine, std::shared_ptr<Engine>>>(m.attr("Engine"));
  engine
      .def(
          "open_store",
          [](Engine& e, const Text<"path">& path, const Text<"durability">& durability,
             const Int<"segment_bytes", std::uint64_t>& segment_bytes, const Real<"checkpoint_interval_s">& ckpt_s,
             const Int<"checkpoint_wal_bytes", std::uint64_t>& ckpt_bytes, const Real<"flush_interval_s">& flush_s,
             const Real<"disk_full_fraction">& disk_full,
             const std::optional<Int<"until_lsn", std::uint64_t>>& until_lsn,
             const std::optional<Int<"until_time_ns">>& until_time_ns, const Flag<"migrate">& migrate) {
            StoreOptions o;
            o.path = path.get();
            o.durability = parse_durability(durability.get());
            o.segment_bytes = segment_bytes.get();
            o.checkpoint_interval_s = ckpt_s.get();
            o.checkpoint_wal_bytes = ckpt_bytes.get();
            o.flush_interval_s = flush_s.get();
            o.disk_full_fraction = disk_full.get();
            o.until_lsn = get(until_lsn);
            o.until_time_ns = get(until_time_ns);
            o.migrate = migrate.get();
            py::gil_scoped_release release;
            e.open_store(o);
          },
          py::arg("path"), py::arg("durability") = "group", py::arg("segment_bytes") = 64ull << 20,
          py::arg("checkpoint_interval_s") = 300.0, py::arg("checkpoint_wal_bytes") = 256ull << 20,
          py::arg("flush_interval_s") = 0.05, py::arg("disk_full_fraction") = 0.95, py::arg("until_lsn") = py::none(),
          py::arg("until_time_ns") = py::none(), py::arg("migrate") = false,
          "Open (or create) the store at path and recover it; call once, right after construction. "
          "migrate: convert a store of an older format as it opens (else it is refused).")
      .def_property_readonly("durable", &Engine::durable, "Whether a store is open.")
      .def_property_readonly("store_path", &Engine::store_path, "The store's directory; empty when in memory.")
      .def("checkpoint", &Engine::checkpoint, py::call_guard<py::gil_scoped_release>(),
           "Write a checkpoint now; returns its LSN.")
      .def("sync_wal", &Engine::sync_wal, py::call_guard<py::gil_scoped_release>(),
           "Write and sync everything logged so far.")
      .def("recovery_info", &Engine::recovery_info, "What opening the store found.")
      .def("wal_stats", &Engine::wal_stats, py::call_guard<py::gil_scoped_release>(), "Write-ahead log counters.")
      .def("wal_segments", &Engine::wal_segments, py::call_guard<py::gil_scoped_release>(),
           "WAL segments with their durable sizes (for backups).")
      .def("checkpoints", &Engine::checkpoints, py::call_guard<py::gil_scoped_release>(),
           "The store's checkpoint files, ascending LSN.")
      .def(
          "content_snapshot",
          [](const Engine& e, const Int<"major", std::uint32_t>& major) {
            const std::uint32_t m = major.get();
            if (m < kOldestFormatVersion || m > kFormatVersion) {
              throw InvalidInputError("major must be " + std::to_string(kOldestFormatVersion) + " to " +
                                      std::to_string(kFormatVersion) + "; got " + std::to_string(m));
            }
            std::string s;
            {
              py::gil_scoped_release release;
              s = e.content_snapshot(m);
            }
            return py::bytes(s);
          },
          py::arg("major") = kFormatVersion,
          "The logical state in checkpoint encoding of format `major`: equal bytes mean equal content.");

  m.attr("FORMAT_VERSION") = kFormatVersion;
  m.attr("OLDEST_FORMAT_VERSION") = kOldestFormatVersion;
  m.def(
      "migrate_store",
      [](const Text<"path">& path, const Int<"to", std::uint32_t>& to, const Flag<"dry_run">& dry_run,
         const py::object& progress) {
        MigrationOptions o;
        o.path = path.get();
        o.to = to.get();
        o.dry_run = dry_run.get();
        if (!progress.is_none()) {
          // Called on this thread with the GIL released: take it for the Python callable.
          o.progress = [progress](const MigrationProgress& p) {
            py::gil_scoped_acquire gil;
            progress(p.phase, p.done, p.total);
          };
        }
        py::gil_scoped_release release;
        return migrate_store(o);
      },
      py::arg("path"), py::arg("to") = kFormatVersion, py::arg("dry_run") = false, py::arg("progress") = py::none(),
      "Convert the store at path to format `to` in place (docs/format.md, Migration); progress(phase, done, "
      "total) is called as it goes.");

  m.def(
      "verify_store",
      [](const Text<"path">& path) {
        const std::string p = path.get();
        py::gil_scoped_release release;
        return verify_store(p);
      },
      py::arg("path"), "Check every checkpoint and WAL segment of a store without changing it.");
  m.def(
      "inspect_wal",
      [](const Text<"path">& path) {
        const std::string p = path.get();
        py::gil_scoped_release release;
        return inspect_wal(p);
      },
      py::arg("path"), "Read every WAL record of a store, read-only (concept records decoded).");
  m.def(
      "crc32c", [](const Bytes<"data">& data) { return crc32c(data.get()); }, py::arg("data"),
      "CRC32C (Castagnoli) of bytes, as the WAL and checkpoints use it.");
}

}  // namespace engram::bind
