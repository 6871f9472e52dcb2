// Server configuration: defaults < TOML file (--config; a [server] table or top-level keys) <
// ENGRAM_SERVER_* variables < flags, one name per field everywhere (port = 7432,
// ENGRAM_SERVER_PORT, --port), the names `engram serve` has always taken. Every number is validated (range,
// finite), and an invalid setting is a ConfigError whose message names it and what is expected.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace engram::server {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ServerConfig {
  // --- the settings of API v1's first server, same names and defaults
  std::string host = "127.0.0.1";
  std::int64_t port = 7432;
  std::optional<std::string> data;  // engine directory; unset with in_memory
  bool in_memory = false;
  std::int64_t dim = 768;
  std::string durability = "group";
  bool migrate = false;                 // convert a store of an older format as it opens (docs/format.md, Migration)
  std::optional<std::string> api_keys;  // path of the hashed key file
  bool no_auth = false;
  std::int64_t max_body_bytes = 8 << 20;
  std::int64_t max_batch = 1000;
  std::int64_t max_k = 1000;
  std::int64_t max_inflight = 256;  // concurrent requests before 429
  std::int64_t stream_queue_limit = 10000;
  std::int64_t stream_max_outstanding = 1000;
  std::int64_t ingest_batch = 256;
  double ingest_throttle_ms = 0.0;
  double disk_full_fraction = 0.95;  // writes refused while the data's file system is this full
  std::int64_t idempotency_capacity = 100000;
  bool inline_engine_calls = false;  // the Python server's switch; here short calls are always inline
  double drain_timeout_s = 20.0;
  double key_reload_interval_s = 1.0;
  std::string log_level = "info";
  std::string deprecated_sunset = "Wed, 01 Jul 2027 00:00:00 GMT";
  // --- the native server's own
  std::int64_t io_threads = 2;          // threads running the sockets and short (inline) handlers
  std::int64_t worker_threads = 4;      // bounded pool for blocking work (durable writes, validation)
  std::optional<std::string> tls_cert;  // PEM; with tls_key, serve HTTPS only
  std::optional<std::string> tls_key;
  std::int64_t max_header_bytes = 16 << 10;   // request line + headers; larger: 431
  double header_timeout_s = 10.0;             // from the first byte of a request to its last header
  double body_timeout_s = 30.0;               // to read a whole body
  double idle_timeout_s = 60.0;               // a keep-alive connection without a request
  std::int64_t max_connections = 1024;        // open connections; more are refused (503, closed)
  std::int64_t max_connections_per_key = 64;  // requests in flight per API key (429 beyond)
  bool metrics_per_space = false;             // unauthenticated /metrics lists per-space series (off: no names leak)
  std::int64_t work_budget_per_key = 2;       // worker-pool cost units one key may have running (admission.hpp)
  std::int64_t work_queue_per_key = 32;       // a key's requests waiting for its budget (429 beyond)
  // The engine's memory budget (engram/memory_budget.hpp): 0 none, else at least 1 MiB; writes
  // are refused (507 memory_pressure) at 90% of it until usage falls below 70%.
  double memory_budget_mb = 0.0;
  double memory_poll_interval_ms = 100.0;    // how often the engine samples its memory
  std::int64_t max_content_bytes = 1 << 20;  // content of one memory, for new spaces (the engine's default)
  std::optional<std::string> backup_dir;     // where POST /api/v1/admin/backup writes (backup.hpp); unset: off
  // Traces (tracing.hpp): OTLP/HTTP JSON to this collector URL; unset: no tracing at all.
  std::optional<std::string> otlp_endpoint;
  double trace_sample_ratio = 1.0;  // requests without a traceparent that are traced
  double otlp_interval_s = 1.0;     // longest wait before queued spans are exported

  void validate() const;
  std::string redacted_json() const;  // the settings as one JSON object (secrets masked)
};

struct FieldInfo {
  std::string name;
  std::string type;  // "int", "float", "bool", "str", "str | None"
  std::string help;
};
const std::vector<FieldInfo>& config_fields();

// Merge the layers; `file` empty for none, env as name -> value, flags already parsed.
ServerConfig load_config(const std::optional<std::string>& file, const std::map<std::string, std::string>& env,
                         const std::map<std::string, std::string>& flags);

struct CommandLine {
  std::optional<std::string> config_file;
  std::map<std::string, std::string> flags;  // field name -> raw value ("true" for switches)
  bool help = false;
};
// engramd's (and engram serve's) flags: --<field-name-with-dashes> VALUE or =VALUE; switches
// (--in-memory, --no-auth, ...) take no value. ConfigError on an unknown flag or a missing value.
CommandLine parse_command_line(const std::vector<std::string>& args);
std::string help_text();
// The ENGRAM_SERVER_* variables as settings (name -> value), without the removed ones below.
std::map<std::string, std::string> server_env(char** environ);
// ENGRAM_SERVER_IMPL chose `engram serve`'s implementation (Starlette or engramd) until the
// Starlette server was deleted. A deployment may still set it: it is not a setting (an unknown
// one would refuse to start), so engramd ignores it and warns once on stderr: one message per
// such variable in `environ`, saying what was received and why it is ignored.
inline constexpr std::string_view kRemovedImplVariable = "ENGRAM_SERVER_IMPL";
std::vector<std::string> ignored_env_warnings(char** environ);

}  // namespace engram::server
