#include "config.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <variant>

#include "json_writer.hpp"
#include "tracing.hpp"

namespace engram::server {

namespace {

using IntField = std::int64_t ServerConfig::*;
using FloatField = double ServerConfig::*;
using BoolField = bool ServerConfig::*;
using StrField = std::string ServerConfig::*;
using OptStrField = std::optional<std::string> ServerConfig::*;
using Member = std::variant<IntField, FloatField, BoolField, StrField, OptStrField>;

struct Field {
  const char* name;
  Member member;
  const char* help;
  bool flag = true;  // listed as a command-line flag
  // numbers: the accepted range (inclusive); floats must also be finite
  double min = 0, max = 0;
};

constexpr double kBig = 9.2e18;
const std::vector<Field>& table() {
  static const std::vector<Field> t = {
      {"host", &ServerConfig::host, "address to listen on"},
      {"port", &ServerConfig::port, "TCP port (0: any free port)", true, 0, 65535},
      {"data", &ServerConfig::data, "engine directory (durable engine: WAL and checkpoints)"},
      {"in_memory", &ServerConfig::in_memory, "serve an in-memory engine (nothing is kept)"},
      {"dim", &ServerConfig::dim, "default embedding dimension of new spaces", true, 1, 65536},
      {"durability", &ServerConfig::durability, "group | fsync | none"},
      {"migrate", &ServerConfig::migrate,
       "convert a store of format 1 to this build's format 2 as it opens (else it is refused; `engramd migrate "
       "--help` converts either way without serving)"},
      {"api_keys", &ServerConfig::api_keys, "JSON file of hashed API keys (see 'engram keys')"},
      {"no_auth", &ServerConfig::no_auth, "serve without authentication (loopback only!)"},
      {"max_body_bytes", &ServerConfig::max_body_bytes, "largest request body (413 beyond)", true, 1, kBig},
      {"max_batch", &ServerConfig::max_batch, "largest batch (413 beyond)", true, 1, kBig},
      {"max_k", &ServerConfig::max_k, "largest k (400 beyond)", true, 1, kBig},
      {"max_inflight", &ServerConfig::max_inflight, "requests in flight before 429", true, 1, kBig},
      {"stream_queue_limit", &ServerConfig::stream_queue_limit, "observations queued for the writer", true, 1, kBig},
      {"stream_max_outstanding", &ServerConfig::stream_max_outstanding, "unacknowledged observations per stream", true,
       1, kBig},
      {"ingest_batch", &ServerConfig::ingest_batch, "observations per writer batch", false, 1, kBig},
      {"ingest_throttle_ms", &ServerConfig::ingest_throttle_ms, "pause per writer batch (capacity drills and tests)",
       true, 0, 1e6},
      {"disk_full_fraction", &ServerConfig::disk_full_fraction,
       "refuse writes while the data directory's file system is at least this full (1: only when the disk refuses)",
       true, 0.5, 1.0},
      {"idempotency_capacity", &ServerConfig::idempotency_capacity, "idempotency keys remembered", false, 1, kBig},
      {"inline_engine_calls", &ServerConfig::inline_engine_calls,
       "accepted for compatibility: short engine calls always run on the IO threads here"},
      {"drain_timeout_s", &ServerConfig::drain_timeout_s, "seconds SIGTERM waits for in-flight work", true, 0, 86400},
      {"key_reload_interval_s", &ServerConfig::key_reload_interval_s, "seconds between key-file checks", false, 0.01,
       86400},
      {"log_level", &ServerConfig::log_level, "debug | info | warning | error"},
      {"deprecated_sunset", &ServerConfig::deprecated_sunset, "Sunset header of deprecated routes", false},
      {"io_threads", &ServerConfig::io_threads, "threads serving sockets and short engine calls", true, 1, 256},
      {"worker_threads", &ServerConfig::worker_threads, "threads for blocking work (durable writes, validation)", true,
       1, 1024},
      {"tls_cert", &ServerConfig::tls_cert, "PEM certificate chain: serve HTTPS (with --tls-key)"},
      {"tls_key", &ServerConfig::tls_key, "PEM private key of --tls-cert"},
      {"max_header_bytes", &ServerConfig::max_header_bytes, "largest request line + headers (431 beyond)", true, 256,
       1 << 24},
      {"header_timeout_s", &ServerConfig::header_timeout_s, "seconds to receive a request's headers", true, 0.001,
       86400},
      {"body_timeout_s", &ServerConfig::body_timeout_s, "seconds to receive a request's body", true, 0.001, 86400},
      {"idle_timeout_s", &ServerConfig::idle_timeout_s, "seconds a keep-alive connection may idle", true, 0.001, 86400},
      {"max_connections", &ServerConfig::max_connections, "open connections (more are refused)", true, 1, 1 << 24},
      {"max_connections_per_key", &ServerConfig::max_connections_per_key, "requests in flight per API key (429 beyond)",
       true, 1, 1 << 24},
      {"metrics_per_space", &ServerConfig::metrics_per_space,
       "unauthenticated /metrics includes per-space series (space names and counts)"},
      {"work_budget_per_key", &ServerConfig::work_budget_per_key,
       "worker-pool cost units one API key may have running at once (expensive calls queue beyond)", true, 1, 1 << 20},
      {"work_queue_per_key", &ServerConfig::work_queue_per_key,
       "requests of one API key waiting for its worker-pool budget (429 beyond)", true, 0, 1 << 20},
      {"memory_budget_mb", &ServerConfig::memory_budget_mb,
       "engine memory budget in MiB (0: none); writes get 507 memory_pressure from 90% until usage is below 70%", true,
       0, 1 << 30},
      {"memory_poll_interval_ms", &ServerConfig::memory_poll_interval_ms,
       "milliseconds between samples of the engine's memory (pressure detection)", true, 1, 10000},
      {"max_content_bytes", &ServerConfig::max_content_bytes,
       "largest content of one memory in new spaces (raise max_body_bytes with it)", true, 0, 256 << 20},
      {"backup_dir", &ServerConfig::backup_dir,
       "directory of hot backups taken over HTTP (POST /api/v1/admin/backup writes DIR/<destination>)"},
      {"otlp_endpoint", &ServerConfig::otlp_endpoint,
       "export traces (OTLP/HTTP JSON) to this collector, e.g. http://127.0.0.1:4318/v1/traces; unset: no tracing"},
      {"trace_sample_ratio", &ServerConfig::trace_sample_ratio,
       "fraction of requests without a sampled traceparent that are traced (with --otlp-endpoint)", true, 0, 1},
      {"otlp_interval_s", &ServerConfig::otlp_interval_s, "seconds at most between trace exports", true, 0.01, 60},
  };
  return t;
}

const Field* find(std::string_view name) {
  for (const auto& f : table())
    if (name == f.name) return &f;
  return nullptr;
}

std::string type_name(const Member& m) {
  switch (m.index()) {
    case 0: return "int";
    case 1: return "float";
    case 2: return "bool";
    case 3: return "str";
    default: return "str | None";
  }
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

[[noreturn]] void bad(const Field& f, const std::string& raw) {
  throw ConfigError("setting " + std::string(f.name) + "=" + raw + " is not a valid " + type_name(f.member));
}

// A value given as text (environment, flags).
void set_text(ServerConfig& c, const Field& f, const std::string& raw) {
  std::visit(
      [&](auto m) {
        using T = std::remove_cvref_t<decltype(c.*m)>;
        if constexpr (std::is_same_v<T, std::int64_t>) {
          std::int64_t v = 0;
          const char* b = raw.data();
          const char* e = b + raw.size();
          if (b != e && *b == '+') ++b;  // int("+5") is 5 in Python
          auto r = std::from_chars(b, e, v);
          if (raw.empty() || r.ec != std::errc() || r.ptr != e) bad(f, "'" + raw + "'");
          c.*m = v;
        } else if constexpr (std::is_same_v<T, double>) {
          // strtod takes "nan" and "inf": they parse, then validate() refuses them with the range
          char* end = nullptr;
          const double v = std::strtod(raw.c_str(), &end);
          if (raw.empty() || end != raw.c_str() + raw.size()) bad(f, "'" + raw + "'");
          c.*m = v;
        } else if constexpr (std::is_same_v<T, bool>) {
          const std::string l = lower(raw);
          if (l == "1" || l == "true" || l == "yes" || l == "on") {
            c.*m = true;
          } else if (l == "0" || l == "false" || l == "no" || l == "off") {
            c.*m = false;
          } else {
            bad(f, "'" + raw + "'");
          }
        } else if constexpr (std::is_same_v<T, std::string>) {
          c.*m = raw;
        } else {
          if (raw.empty()) {
            c.*m = std::nullopt;
          } else {
            c.*m = raw;
          }
        }
      },
      f.member);
}

// A value from the TOML file: typed there, so an int field takes a TOML integer only (a string
// "5" is taken as text, as the Python loader coerces it).
void set_toml(ServerConfig& c, const Field& f, const toml::node& n) {
  if (auto s = n.value_exact<std::string>()) {
    set_text(c, f, *s);
    return;
  }
  std::visit(
      [&](auto m) {
        using T = std::remove_cvref_t<decltype(c.*m)>;
        if constexpr (std::is_same_v<T, std::int64_t>) {
          if (auto v = n.value_exact<std::int64_t>()) {
            c.*m = *v;
          } else {
            bad(f, "(" + std::string(toml::impl::node_type_friendly_names[static_cast<int>(n.type())]) + ")");
          }
        } else if constexpr (std::is_same_v<T, double>) {
          if (auto v = n.value<double>(); v && (n.is_floating_point() || n.is_integer())) {
            c.*m = *v;
          } else {
            bad(f, "(" + std::string(toml::impl::node_type_friendly_names[static_cast<int>(n.type())]) + ")");
          }
        } else if constexpr (std::is_same_v<T, bool>) {
          if (auto v = n.value_exact<bool>()) {
            c.*m = *v;
          } else {
            bad(f, "(" + std::string(toml::impl::node_type_friendly_names[static_cast<int>(n.type())]) + ")");
          }
        } else {
          bad(f, "(" + std::string(toml::impl::node_type_friendly_names[static_cast<int>(n.type())]) + ")");
        }
      },
      f.member);
}

std::string fmt_number(double v) {
  std::string s;
  JsonWriter::append_double(s, v);
  return std::isfinite(v) ? s : (std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf"));
}

}  // namespace

const std::vector<FieldInfo>& config_fields() {
  static const std::vector<FieldInfo> out = [] {
    std::vector<FieldInfo> v;
    for (const auto& f : table()) v.push_back({f.name, type_name(f.member), f.help});
    return v;
  }();
  return out;
}

void ServerConfig::validate() const {
  if (in_memory == data.has_value()) {
    throw ConfigError("give exactly one of data=DIR (a durable engine) or in_memory=true");
  }
  if (no_auth == api_keys.has_value()) {
    throw ConfigError("give exactly one of api_keys=FILE or no_auth=true (authentication is explicit)");
  }
  if (durability != "group" && durability != "fsync" && durability != "none") {
    throw ConfigError("durability='" + durability + "'; expected one of group, fsync, none");
  }
  if (log_level != "debug" && log_level != "info" && log_level != "warning" && log_level != "error") {
    throw ConfigError("log_level='" + log_level + "'; expected one of debug, info, warning, error");
  }
  if (tls_cert.has_value() != tls_key.has_value()) {
    throw ConfigError("give both tls_cert=FILE and tls_key=FILE (or neither)");
  }
  if (otlp_endpoint) tracing::parse_endpoint(*otlp_endpoint);  // ConfigError naming what is wrong
  if (memory_budget_mb != 0.0 && memory_budget_mb < 1.0) {
    throw ConfigError("memory_budget_mb=" + fmt_number(memory_budget_mb) + "; expected 0 (no budget) or at least 1");
  }
  for (const auto& f : table()) {
    if (const auto* m = std::get_if<IntField>(&f.member)) {
      const auto v = this->**m;
      if (static_cast<double>(v) < f.min || static_cast<double>(v) > f.max) {
        if (std::string_view(f.name) == "port") {
          throw ConfigError("port=" + std::to_string(v) + " is not a TCP port (0-65535)");
        }
        throw ConfigError(std::string(f.name) + "=" + std::to_string(v) + "; expected an integer in [" +
                          fmt_number(f.min) + ", " + fmt_number(f.max) + "]" +
                          (f.min == 1 ? " (a positive integer)" : ""));
      }
    } else if (const auto* d = std::get_if<FloatField>(&f.member)) {
      const double v = this->**d;
      if (!std::isfinite(v) || v < f.min || v > f.max) {
        throw ConfigError(std::string(f.name) + "=" + fmt_number(v) + "; expected a finite number in [" +
                          fmt_number(f.min) + ", " + fmt_number(f.max) + "]");
      }
    }
  }
}

std::string ServerConfig::redacted_json() const {
  JsonWriter w;
  w.begin_object();
  for (const auto& f : table()) {
    w.key(f.name);
    const std::string_view n = f.name;
    const bool secret = n.find("secret") != n.npos || n.find("token") != n.npos || n.find("password") != n.npos;
    if (secret) {
      w.value("***");
      continue;
    }
    std::visit(
        [&](auto m) {
          using T = std::remove_cvref_t<decltype(this->*m)>;
          if constexpr (std::is_same_v<T, std::optional<std::string>>) {
            if (this->*m) {
              w.value(*(this->*m));
            } else {
              w.null();
            }
          } else {
            w.value(this->*m);
          }
        },
        f.member);
  }
  w.end_object();
  return w.take();
}

ServerConfig load_config(const std::optional<std::string>& file, const std::map<std::string, std::string>& env,
                         const std::map<std::string, std::string>& flags) {
  ServerConfig c;
  std::vector<std::string> unknown;
  if (file) {
    toml::table doc;
    try {
      doc = toml::parse_file(*file);
    } catch (const toml::parse_error& e) {
      std::ostringstream msg;
      msg << "cannot read the configuration file " << *file << ": " << e.description();
      if (e.source().begin) msg << " (line " << e.source().begin.line << ")";
      throw ConfigError(msg.str());
    }
    const toml::table* t = &doc;
    if (auto* s = doc["server"].as_table()) t = s;
    for (const auto& [k, v] : *t) {
      const std::string key(k.str());
      if (const Field* f = find(key)) {
        set_toml(c, *f, v);
      } else {
        unknown.push_back(key);
      }
    }
  }
  for (const auto& [name, raw] : env) {
    if (const Field* f = find(name)) {
      set_text(c, *f, raw);
    } else {
      unknown.push_back(name);
    }
  }
  for (const auto& [name, raw] : flags) {
    const Field* f = find(name);
    if (!f) throw ConfigError("unknown flag --" + name);
    set_text(c, *f, raw);
  }
  if (!unknown.empty()) {
    std::sort(unknown.begin(), unknown.end());
    std::string u, known;
    for (const auto& n : unknown) u += (u.empty() ? "'" : ", '") + n + "'";
    std::vector<std::string> names;
    for (const auto& f : table()) names.emplace_back(f.name);
    std::sort(names.begin(), names.end());
    for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
    throw ConfigError("unknown setting(s) [" + u + "]; known: " + known);
  }
  c.validate();
  return c;
}

CommandLine parse_command_line(const std::vector<std::string>& args) {
  CommandLine cl;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    if (a == "-h" || a == "--help") {
      cl.help = true;
      continue;
    }
    if (a.rfind("--", 0) != 0) throw ConfigError("unexpected argument '" + a + "' (flags start with --)");
    std::optional<std::string> value;
    if (auto eq = a.find('='); eq != std::string::npos) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
    }
    std::string name = a.substr(2);
    for (auto& ch : name)
      if (ch == '-') ch = '_';
    if (name == "config") {
      if (!value) {
        if (i + 1 >= args.size()) throw ConfigError("--config needs a value (a TOML file)");
        value = args[++i];
      }
      cl.config_file = *value;
      continue;
    }
    const Field* f = find(name);
    if (!f || !f->flag) throw ConfigError("unknown flag " + a + " (see --help)");
    if (std::holds_alternative<BoolField>(f->member)) {
      cl.flags[name] = value.value_or("true");
      continue;
    }
    if (!value) {
      if (i + 1 >= args.size()) throw ConfigError(a + " needs a value");
      value = args[++i];
    }
    cl.flags[name] = *value;
  }
  return cl;
}

std::string help_text() {
  std::ostringstream o;
  o << "usage: engramd [--config FILE] [flags]\n\n"
       "Serve an Engram engine over HTTP (API v1). Settings: defaults < TOML file (--config; a [server]\n"
       "table or top-level keys) < ENGRAM_SERVER_<NAME> variables < flags. To convert a store between\n"
       "format versions without serving it: engramd migrate --help.\n\noptions:\n"
       "  -h, --help                 show this help and exit\n"
       "  --config FILE              TOML file with the settings\n";
  for (const auto& f : table()) {
    if (!f.flag) continue;
    std::string flag = "--" + std::string(f.name);
    for (auto& ch : flag)
      if (ch == '_') ch = '-';
    if (!std::holds_alternative<BoolField>(f.member)) {
      std::string meta = f.name;
      for (auto& ch : meta) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      flag += " " + meta;
    }
    o << "  " << flag;
    o << std::string(flag.size() < 27 ? 27 - flag.size() : 1, ' ') << f.help << "\n";
  }
  return o.str();
}

std::vector<std::string> ignored_env_warnings(char** envp) {
  std::vector<std::string> out;
  for (char** e = envp; e && *e; ++e) {
    const std::string_view kv(*e);
    const auto eq = kv.find('=');
    if (kv.substr(0, eq) != kRemovedImplVariable) continue;
    out.push_back(std::string(kRemovedImplVariable) + "=" + std::string(eq == kv.npos ? "" : kv.substr(eq + 1)) +
                  " is ignored: it chose between the Python (Starlette) server and engramd, and the Python "
                  "server was removed (issue 13); engramd is the only server, so unset it");
  }
  return out;
}

std::map<std::string, std::string> server_env(char** envp) {
  std::map<std::string, std::string> out;
  constexpr std::string_view kPrefix = "ENGRAM_SERVER_";
  for (char** e = envp; e && *e; ++e) {
    std::string_view kv(*e);
    if (kv.substr(0, kPrefix.size()) != kPrefix) continue;
    if (kv.substr(0, kv.find('=')) == kRemovedImplVariable) continue;  // ignored_env_warnings says so
    const auto eq = kv.find('=');
    if (eq == kv.npos) continue;
    out[lower(std::string(kv.substr(kPrefix.size(), eq - kPrefix.size())))] = std::string(kv.substr(eq + 1));
  }
  return out;
}

}  // namespace engram::server
