// Hot backups over HTTP (issue 15, workflow 109): POST /api/v1/admin/backup takes a backup of the
// served store into a named directory under --backup-dir while writes go on (backup.hpp), full
// or incremental; GET /api/v1/admin/backups lists the backups there. The server, not the caller,
// chooses where backups live: a name is a single path component, so a key can never make the
// server write elsewhere. Both need an admin key granted "*" (a backup holds every space).
#include <simdjson.h>

#include <filesystem>

#include "api_error.hpp"
#include "backup.hpp"
#include "context.hpp"
#include "json_writer.hpp"
#include "pagination.hpp"
#include "routes.hpp"

namespace engram::server {

namespace {

constexpr std::size_t kMaxName = 128;

// A manifest field, or fallback when absent or of another type (the listing reports what it can).
template <class T>
T field_or(simdjson::dom::element e, std::string_view key, T fallback) {
  T v{};
  return e[key].get(v) == simdjson::SUCCESS ? v : fallback;
}

std::string backup_schema() {
  JsonWriter w;
  w.begin_object().field("additionalProperties", false).key("properties").begin_object();
  w.key("destination").begin_object();
  w.field("description", "the backup's directory under the server's --backup-dir (one name, no '/')");
  w.field("maxLength", static_cast<std::int64_t>(kMaxName)).field("minLength", 1);
  w.field("pattern", "^[A-Za-z0-9][A-Za-z0-9._-]*$").field("title", "Destination").field("type", "string");
  w.end_object();
  w.key("full").begin_object().key("anyOf").begin_array();
  w.begin_object().field("type", "boolean").end_object();
  w.begin_object().field("type", "null").end_object().end_array();
  w.key("default").null();
  w.field("description", "start a new chain even when the destination holds a backup of this store");
  w.field("title", "Full").end_object();
  w.end_object().key("required").begin_array().value("destination").end_array();
  w.field("title", "Backup").field("type", "object").end_object();
  return w.take();
}

const std::string& backup_root(const RequestContext& ctx) {
  if (!ctx.state.config.backup_dir)
    throw ApiError(409, "backup_not_configured",
                   "this server has no backup directory: start engram serve with --backup-dir DIR "
                   "(backups are written to DIR/<destination>)");
  if (!ctx.state.config.data)
    throw ApiError(409, "backup_not_configured", "this server's engine is in memory (--in-memory): nothing to back up");
  return *ctx.state.config.backup_dir;
}

void write_result(JsonWriter& w, std::string_view name, const BackupResult& r) {
  w.begin_object().field("destination", name).field("path", r.path).field("incremental", r.incremental);
  w.field("checkpoint_lsn", r.checkpoint_lsn).field("durable_lsn", r.durable_lsn);
  w.field("bytes_shipped", r.bytes_shipped).field("bytes_total", r.bytes_total);
  w.field("files", static_cast<std::uint64_t>(r.files))
      .field("files_shipped", static_cast<std::uint64_t>(r.files_shipped));
  w.field("seconds", r.seconds).field("created_unix", r.created_unix);
  w.field("mb_per_s", r.seconds > 0 ? static_cast<double>(r.bytes_shipped) / 1e6 / r.seconds : 0.0).end_object();
}

Response backup(RequestContext& ctx) {
  auto o = ctx.json();
  const std::string name(o.required("destination").as_string(1, kMaxName));
  const bool full = o.opt_bool("full").value_or(false);
  o.finish();
  if (!valid_backup_name(name))
    throw ApiError(
        400, "invalid_input",
        "destination: '" + name +
            "' is not a backup name: use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit");
  const std::string root = std::filesystem::absolute(backup_root(ctx)).lexically_normal().string();
  Engine& engine = ctx.engine();
  BackupRunner& runner = ctx.state.backups;
  if (!runner.try_begin()) throw ApiError(409, "backup_in_progress", "a backup is running; try again when it is done");
  ctx.state.log.info("backup_started", {{"destination", name}, {"full", full}, {"key", ctx.principal->key_id}});
  BackupResult r;
  try {
    std::filesystem::create_directories(root);
    r = back_up(engine, root + "/" + name, full);
  } catch (const std::exception& e) {
    runner.end(false, nullptr);
    ctx.state.metrics.inc("engram_backup_runs_total", "", 1.0, {{"outcome", "failed"}});
    ctx.state.log.error("backup_failed", {{"destination", name}, {"error", e.what()}, {"key", ctx.principal->key_id}});
    throw ApiError(500, "backup_failed",
                   std::string("backup to '") + name + "' failed: " + e.what() +
                       "; the previous backup there, if any, is unchanged (its manifest was not replaced)");
  }
  runner.end(true, &r);
  ctx.state.metrics.inc("engram_backup_runs_total", "", 1.0, {{"outcome", "ok"}});
  ctx.state.log.info("backup_completed", {{"destination", name},
                                          {"incremental", r.incremental},
                                          {"durable_lsn", r.durable_lsn},
                                          {"bytes_shipped", r.bytes_shipped},
                                          {"seconds", r.seconds}});
  JsonWriter w = ctx.writer();
  write_result(w, name, r);
  return Response::json(w.take());
}

// Each directory under --backup-dir with a manifest, by name: its LSNs, time and size.
Response list_backups(RequestContext& ctx) {
  const PageQuery q = page_query(ctx);
  const std::string root = backup_root(ctx);
  JsonWriter w = ctx.writer();
  w.begin_object().field("backup_dir", root).key("backups").begin_array();
  std::error_code ec;
  std::vector<std::filesystem::path> dirs;
  for (const auto& entry : std::filesystem::directory_iterator(root, ec))
    if (entry.is_directory() && std::filesystem::exists(entry.path() / "manifest.json")) dirs.push_back(entry.path());
  std::sort(dirs.begin(), dirs.end());
  const Page p = page_of(q, dirs.size(), [&](std::size_t i) { return dirs[i].filename().string(); });
  simdjson::dom::parser parser;
  for (std::size_t i = p.first; i < p.last; ++i) {
    const auto& dir = dirs[i];
    simdjson::dom::element m;
    w.begin_object().field("destination", dir.filename().string());
    if (parser.load((dir / "manifest.json").string()).get(m) != simdjson::SUCCESS) {
      w.field("error", "manifest.json is not readable JSON").end_object();
      continue;
    }
    const auto durable = field_or<std::uint64_t>(m, "durable_lsn", 0);
    const auto ckpt = field_or<std::uint64_t>(m, "checkpoint_lsn", 0);
    const auto created = field_or<double>(m, "created_unix", 0.0);
    const auto incremental = field_or<bool>(m, "incremental", false);
    std::uint64_t bytes = 0, files = 0;
    simdjson::dom::object fs;
    if (m["files"].get_object().get(fs) == simdjson::SUCCESS) {
      for (auto [k, v] : fs) {
        bytes += field_or<std::uint64_t>(v, "bytes", 0);
        ++files;
      }
    }
    w.field("checkpoint_lsn", ckpt).field("durable_lsn", durable).field("created_unix", created);
    w.field("last_incremental", incremental).field("bytes", bytes).field("files", files).end_object();
  }
  w.end_array();
  write_next_cursor(w, q, p);
  w.end_object();
  return Response::json(w.take());
}

}  // namespace

void register_backup_routes(RouteTable& t) {
  const std::string P = "/api/v1";
  const std::vector<std::string> admin{"admin"};
  t.add({.method = "POST",
         .path = P + "/admin/backup",
         .role = Role::Admin,
         .summary = "Back up the store while it serves (full, or incremental into an earlier backup)",
         .tags = admin,
         .operation_id = "backup",
         .handler = backup,
         .body = BodySchema{"Backup", backup_schema()},
         .responses = {{409, "backup_not_configured or backup_in_progress"}, {500, "backup_failed"}},
         .exec = Exec::Worker,  // copies files
         .engine_wide = true});
  t.add({.method = "GET",
         .path = P + "/admin/backups",
         .role = Role::Admin,
         .summary = "The backups under the server's --backup-dir",
         .tags = admin,
         .operation_id = "list_backups",
         .handler = list_backups,
         .responses = {{409, "backup_not_configured"}},
         .exec = Exec::Worker,  // reads manifests
         .engine_wide = true});
}

}  // namespace engram::server
