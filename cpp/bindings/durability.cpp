// Bindings for durable engines: open a store, checkpoints, recovery report, WAL statistics,
// offline verification. Module-level functions taking the Engine (engram.engine wraps them).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>

#include "engram/crc32c.hpp"
#include "engram/engine.hpp"
#include "engram/errors.hpp"
#include "engram/store.hpp"

namespace py = pybind11;

namespace engram {
namespace {

Durability parse_durability(const std::string& s) {
  if (s == "fsync") return Durability::Fsync;
  if (s == "group") return Durability::Group;
  if (s == "none") return Durability::None;
  throw InvalidInputError("durability must be 'fsync', 'group' or 'none', got '" + s.substr(0, 40) + "'");
}

py::dict recovery_dict(const RecoveryInfo& r) {
  py::dict d;
  d["durable"] = r.durable;
  d["duration_s"] = r.duration_s;
  d["checkpoint_lsn"] = r.checkpoint_lsn;
  d["records_replayed"] = r.records_replayed;
  d["last_lsn"] = r.last_lsn;
  d["torn_tails"] = r.torn_tails;
  d["corruptions"] = r.corruptions;
  py::list events;
  for (const RecoveryEvent& e : r.events) {
    py::dict x;
    x["kind"] = e.kind;
    x["file"] = e.file;
    x["offset"] = e.offset;
    x["detail"] = e.detail;
    x["quarantined_to"] = e.quarantined_to;
    events.append(x);
  }
  d["events"] = events;
  return d;
}

py::dict wal_dict(const WalStats& w) {
  py::dict d;
  d["appends"] = w.appends;
  d["bytes_written"] = w.bytes_written;
  d["syncs"] = w.syncs;
  d["storage_errors"] = w.storage_errors;
  d["segments_created"] = w.segments_created;
  d["last_lsn"] = w.last_lsn;
  d["durable_lsn"] = w.durable_lsn;
  d["bytes_since_checkpoint"] = w.bytes_since_checkpoint;
  d["failed"] = w.failed;
  d["last_error"] = w.last_error;
  return d;
}

}  // namespace

void register_durability(py::module_& m) {
  m.def(
      "store_open",
      [](Engine& e, const std::string& path, const std::string& durability, std::uint64_t segment_bytes,
         double checkpoint_interval_s, std::uint64_t checkpoint_wal_bytes, double flush_interval_s,
         std::optional<std::uint64_t> until_lsn, std::optional<std::int64_t> until_time_ns) {
        StoreOptions o;
        o.path = path;
        o.durability = parse_durability(durability);
        o.segment_bytes = segment_bytes;
        o.checkpoint_interval_s = checkpoint_interval_s;
        o.checkpoint_wal_bytes = checkpoint_wal_bytes;
        o.flush_interval_s = flush_interval_s;
        o.until_lsn = until_lsn;
        o.until_time_ns = until_time_ns;
        py::gil_scoped_release release;
        e.open_store(o);
      },
      py::arg("engine"), py::arg("path"), py::arg("durability") = "group", py::arg("segment_bytes") = 64ull << 20,
      py::arg("checkpoint_interval_s") = 300.0, py::arg("checkpoint_wal_bytes") = 256ull << 20,
      py::arg("flush_interval_s") = 0.05, py::arg("until_lsn") = py::none(), py::arg("until_time_ns") = py::none());
  m.def("store_checkpoint", &Engine::checkpoint, py::call_guard<py::gil_scoped_release>());
  m.def("store_sync", &Engine::sync_wal, py::call_guard<py::gil_scoped_release>());
  m.def("store_recovery", [](const Engine& e) { return recovery_dict(e.recovery_info()); });
  m.def("store_wal_stats", [](const Engine& e) { return wal_dict(e.wal_stats()); });
  m.def("store_segments", [](Engine& e) {
    std::vector<Wal::SegmentExtent> segs;
    {
      py::gil_scoped_release release;
      segs = e.wal_segments();
    }
    py::list out;
    for (const auto& s : segs) out.append(py::make_tuple(s.path, s.first_lsn, s.bytes));
    return out;
  });
  m.def("verify_store", [](const std::string& path) {
    VerifyReport r;
    {
      py::gil_scoped_release release;
      r = verify_store(path);
    }
    py::dict d;
    d["ok"] = r.ok();
    d["checkpoints"] = r.checkpoints;
    d["segments"] = r.segments;
    d["records"] = r.records;
    d["last_lsn"] = r.last_lsn;
    py::list issues;
    for (const VerifyIssue& i : r.issues) {
      py::dict x;
      x["severity"] = i.severity;
      x["file"] = i.file;
      x["offset"] = i.offset;
      x["detail"] = i.detail;
      issues.append(x);
    }
    d["issues"] = issues;
    return d;
  });
  m.def("state_snapshot", [](const Engine& e) {
    std::string s;
    {
      py::gil_scoped_release release;
      s = e.content_snapshot();
    }
    return py::bytes(s);
  });
  m.def("crc32c", [](py::bytes data) {
    const std::string s = data;
    return crc32c(s);
  });
}

}  // namespace engram
