// HTTP target for the open-loop load executor: the same schedule as run_schedule (load_executor.hpp),
// but every operation is an HTTP request to a server speaking API v1 (remember, recall, search).
//
// A fixed pool of keep-alive connections (TCP_NODELAY) serves the schedule. Request bodies are
// serialised before the clock starts (up to a memory budget); beyond it, a free connection claims the
// next operation in schedule order and serialises its body while it waits for its intended start.
// Each request is sent at its intended start, and latency runs
// from the *intended* start: when every connection is busy or the server is slow, the operations
// queued behind it carry that delay (no coordinated omission). Every request is bounded by a timeout
// covering connect, write and read; operations not started by the deadline are NotStarted; the whole
// run is bounded by deadline + timeouts, so a stuck or dead server ends the run with errors, never a
// hang. Errors are classified by HTTP status and the error body's code, or by transport failure.
//
// This header needs no Boost: the implementation (http_target.cpp, Boost.Beast/Asio) is compiled
// only when Boost is found (ENGRAM_HAVE_HTTP_LOAD); http_load_available() says whether it was.
//
// Thread safety: run_schedule_http() owns its I/O threads (joined before return); each output slot
// is written by the one connection that claimed the operation; inputs are read-only for the call.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engram/load_executor.hpp"

namespace engram {

// How an embedding travels in a request body: a JSON array of numbers, or the string of base64
// (RFC 4648, padded) little-endian float32 that API v1 also accepts wherever an embedding goes
// (engramd's addition; the OpenAPI document says so). base64 is a third of the bytes and costs
// neither side a float parse or print.
enum class EmbeddingEncoding : std::uint8_t { JsonArray = 0, Base64 = 1 };

struct HttpLoadOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string base_path;  // prefix before /api/v1, "" for a server at the root
  std::string api_key;    // sent as "Authorization: Bearer <key>" when not empty
  unsigned connections = 8;
  unsigned threads = 1;                              // I/O threads driving the connections
  std::int64_t deadline_ns = 0;                      // not started by this offset: NotStarted (0: none)
  std::int64_t request_timeout_ns = 10'000'000'000;  // connect + write + read of one request
  std::int64_t connect_timeout_ns = 2'000'000'000;
  std::int64_t spin_ns = 20'000;  // wake this early and spin: timer wake-ups are late, and lateness counts
  std::size_t max_response_bytes = 64 << 20;
  // Request bodies serialised before the clock starts, up to this many bytes; the rest are
  // serialised by each connection while it waits for the operation's intended start.
  std::size_t prebuild_bytes = std::size_t{1} << 30;
  EmbeddingEncoding encoding = EmbeddingEncoding::JsonArray;
};

struct HttpLoadOutcome {
  std::vector<std::int64_t> actual_start_ns;  // -1 when never started
  std::vector<std::int64_t> latency_ns;       // completion - intended start; -1 when never started
  std::vector<std::int16_t> error_code;       // index into error_classes; 0 is success
  std::vector<std::string> error_classes;     // [0] is ""; e.g. "HTTP 429 overloaded", "Timeout"
  std::vector<std::string> error_samples;     // first message seen per class, parallel to error_classes
  std::int64_t wall_ns = 0;                   // run start to last completion
  std::int64_t process_cpu_ns = 0;            // this process's CPU time over the run
  std::int64_t io_thread_cpu_ns = 0;          // CPU time of the I/O threads (the load generator itself)
  std::int64_t connections_opened = 0;
  std::int64_t bodies_prebuilt = 0;  // operations whose body was serialised before the run
  std::int64_t prebuild_cpu_ns = 0;  // CPU spent on that, before the run (not in process_cpu_ns)
  std::int64_t bytes_sent = 0;
  std::int64_t bytes_received = 0;
};

// Whether this build has the HTTP target (Boost.Beast/Asio were found when it was compiled).
bool http_load_available();

// Runs `schedule` against the server; space_names[i] is the URL name of schedule space index i.
// Throws InvalidInputError on inconsistent input, EngramError when the build lacks the HTTP target
// or the host cannot be resolved.
HttpLoadOutcome run_schedule_http(const LoadSchedule& schedule, const std::vector<std::string>& space_names,
                                  const HttpLoadOptions& options);

}  // namespace engram
