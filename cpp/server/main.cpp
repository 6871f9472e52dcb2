// engramd: the native Engram server (same flags as `engram serve`; no Python involved).
// Exit status: 0 after a graceful SIGTERM/SIGINT, 1 when the engine or the listener fails,
// 2 for a bad configuration.
#include <cstdio>
#include <iostream>

#include "config.hpp"
#include "http_server.hpp"
#include "log.hpp"
#include "migrate_command.hpp"
#include "routes.hpp"
#include "state.hpp"

extern char** environ;

int main(int argc, char** argv) {
  using namespace engram::server;
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args.front() == "migrate") {  // convert a store's format, without serving it
    return run_migrate_command(std::vector<std::string>(args.begin() + 1, args.end()));
  }
  ServerConfig cfg;
  try {
    const CommandLine cl = parse_command_line(args);
    if (cl.help) {
      std::cout << help_text();
      return 0;
    }
    cfg = load_config(cl.config_file, server_env(environ), cl.flags);
  } catch (const ConfigError& e) {
    JsonLog(LogLevel::Error).error("bad_config", {{"message", std::string(e.what())}});
    return 2;
  }
  std::unique_ptr<ServerState> state;
  try {
    state = std::make_unique<ServerState>(cfg);
  } catch (const std::exception& e) {  // an unreadable or invalid key file
    JsonLog(LogLevel::Error).error("bad_config", {{"message", std::string(e.what())}});
    return 2;
  }
  JsonLog& log = state->log;
  log.emit_object(LogLevel::Info, "config", cfg.redacted_json());
  for (const auto& message : ignored_env_warnings(environ)) log.warning("ignored_setting", {{"message", message}});
  if (cfg.no_auth) {
    const std::string banner =
        "AUTHENTICATION IS DISABLED (--no-auth): anyone who can reach this port can read, write and drop every space";
    log.write_raw("\n" + std::string(100, '!') + "\n!! " + banner + "\n" + std::string(100, '!') + "\n\n");
    log.warning("auth_disabled", {{"message", banner}, {"host", cfg.host}});
  }
  if (cfg.in_memory) {
    log.warning("in_memory_engine", {{"message", "serving an in-memory engine: nothing survives a restart"}});
  }
  register_all_routes(state->routes);
  std::unique_ptr<HttpServer> server;
  try {
    server = std::make_unique<HttpServer>(*state);
    server->listen();
  } catch (const std::exception& e) {
    log.error("start_failed", {{"message", std::string(e.what())}});
    return 1;
  }
  const std::string scheme = server->tls() ? "https" : "http";
  const std::string base = scheme + "://" + cfg.host + ":" + std::to_string(server->port());
  log.info("listening", {{"url", base}, {"openapi", base + "/openapi.json"}});
  const int code = server->run();
  log.info("exit", {{"code", code}});
  return code;
}
