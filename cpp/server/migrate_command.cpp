#include "migrate_command.hpp"

#include <iostream>
#include <optional>

#include "engram/errors.hpp"
#include "engram/migrate.hpp"
#include "json_writer.hpp"
#include "log.hpp"

namespace engram::server {
namespace {

const char* const kUsage =
    "usage: engramd migrate --data DIR [--to N] [--dry-run]\n\n"
    "Convert the store DIR in place to format N (default: this build's, 2), or back to format 1 (a\n"
    "rollback, refused while the store holds anything format 1 cannot represent). The store must not\n"
    "be open in a server. --dry-run reads and checks everything and reports what would be written and\n"
    "what blocks it, changing nothing. Progress and the report are JSON lines on stdout.\n";

std::string report_json(const MigrationReport& r) {
  JsonWriter w;
  w.begin_object().field("event", "migration_report").field("from", static_cast<std::uint64_t>(r.from));
  w.field("to", static_cast<std::uint64_t>(r.to)).field("dry_run", r.dry_run).field("changed", r.changed);
  w.field("resumed", r.resumed).field("lsn", r.lsn).field("spaces", r.spaces).field("episodes", r.episodes);
  w.field("concepts", r.concepts).field("forgotten", r.forgotten).field("bytes_read", r.bytes_read);
  w.field("checkpoint_bytes", r.checkpoint_bytes).field("torn_tails", r.torn_tails).field("seconds", r.seconds);
  w.key("blockers").begin_array();
  for (const std::string& b : r.blockers) w.value(b);
  w.end_array().end_object();
  return w.take();
}

}  // namespace

int run_migrate_command(const std::vector<std::string>& args) {
  MigrationOptions o;
  std::optional<std::string> data;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    const auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= args.size()) return std::nullopt;
      return args[++i];
    };
    if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      return 0;
    }
    if (a == "--dry-run") {
      o.dry_run = true;
    } else if (a == "--data") {
      data = value();
      if (!data) break;
    } else if (a == "--to") {
      const auto v = value();
      if (!v || v->empty() || v->size() > 3 || v->find_first_not_of("0123456789") != std::string::npos) {
        std::cerr << "engramd migrate: --to needs a format version (1 or 2)\n" << kUsage;
        return 2;
      }
      o.to = static_cast<std::uint32_t>(std::stoul(*v));
    } else {
      std::cerr << "engramd migrate: unexpected argument '" << a << "'\n" << kUsage;
      return 2;
    }
  }
  if (!data || data->empty()) {
    std::cerr << "engramd migrate: --data DIR is required\n" << kUsage;
    return 2;
  }
  o.path = *data;
  o.progress = every_tenth([](const MigrationProgress& p) {
    JsonWriter w;
    w.begin_object().field("event", "migration_progress").field("phase", p.phase).field("done", p.done);
    w.field("total", p.total).end_object();
    std::cout << w.take() << "\n" << std::flush;
  });
  try {
    const MigrationReport r = migrate_store(o);
    std::cout << report_json(r) << "\n" << std::flush;
    return r.blockers.empty() ? 0 : 1;
  } catch (const std::exception& e) {
    JsonLog(LogLevel::Error).error("migration_failed", {{"message", std::string(e.what())}});
    return 1;
  }
}

}  // namespace engram::server
