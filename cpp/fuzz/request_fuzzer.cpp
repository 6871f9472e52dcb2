// libFuzzer target: arbitrary bytes through what engramd does with an untrusted request before a
// handler touches the engine (cpp/server/http_server.cpp, Session::read_header .. run_handler):
//  1. Beast's HTTP/1.1 request_parser with the server's default header and body limits, several
//     pipelined requests from one buffer, as a keep-alive connection reads them;
//  2. the router: the method and path matched against every route template engramd registers
//     (route_templates.hpp), path parameters percent-decoded, space names checked;
//  3. the body as the route handlers read it: application/octet-stream as raw float32, JSON
//     through the strict reader (json_reader.hpp) asked for every kind of value at every field,
//     embeddings through embedding_input.hpp (JSON arrays and base64 strings).
// Properties beyond "no crash, no sanitizer report": every refusal is a typed 4xx ApiError (or an
// engine error the server maps onto one) with a message, and its error body is valid JSON naming
// the same status. Anything else thrown escapes and libFuzzer reports it.
//
// Build and run: docs/faults.md ("Fuzzing the request parser"); nox's `tests` session runs it for
// a bounded time on the seed corpus in cpp/fuzz/corpus.
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "api_error.hpp"
#include "config.hpp"
#include "embedding_input.hpp"
#include "engram/errors.hpp"
#include "engram/validation.hpp"
#include "json_reader.hpp"
#include "route_templates.hpp"
#include "router.hpp"

namespace {

using namespace engram::server;
namespace beast = boost::beast;
namespace http = beast::http;
namespace dom = simdjson::dom;

constexpr int kMaxDepth = 24;               // of the JSON walk (simdjson itself allows 1024)
constexpr std::size_t kMaxArrayItems = 64;  // walked per array
constexpr int kMaxPipelined = 4;            // requests parsed from one input

[[noreturn]] void fail() { __builtin_trap(); }

const ServerConfig& config() {
  static const ServerConfig c;  // the defaults engramd runs with
  return c;
}

const RouteTable& routes() {
  static const RouteTable t = [] {
    RouteTable table;
    for (const auto& r : engram::fuzz::kRouteTemplates) {
      Route route;
      route.method = std::string(r.method);
      route.path = std::string(r.path);
      if (r.body) route.body = BodySchema{"Body", "{}"};
      table.add(std::move(route));
    }
    return table;
  }();
  return t;
}

// A refusal as the server would send it: a 4xx with a code and a message, in a JSON body.
void check_refusal(const ApiError& e) {
  if (e.status < 400 || e.status > 499 || e.code.empty() || std::string_view(e.what()).empty()) fail();
  const std::string body = error_body(e, "fuzz");
  dom::parser parser;
  const auto doc = parser.parse(body);
  if (doc.error()) fail();
  const auto status = doc["error"]["status"].get_int64();
  if (status.error() || status.value_unsafe() != e.status) fail();
}

void check_engine_error(const engram::EngramError& e) {
  const auto mapped = from_exception(e);
  if (!mapped) fail();
  check_refusal(*mapped);
}

template <class F>
void refused_or_ok(F&& f) {
  try {
    f();
  } catch (const ApiError& e) {
    check_refusal(e);
  } catch (const engram::EngramError& e) {
    check_engine_error(e);
  }
}

void walk(const ValueReader& v, int depth);

void walk_object(ObjectReader o, dom::object fields, int depth) {
  for (auto field : fields) {
    refused_or_ok([&] {
      if (auto value = o.get(field.key)) walk(*value, depth + 1);
    });
  }
  refused_or_ok([&] { o.finish(); });  // duplicates, and here every field was asked for
}

// Every accessor a handler may use, on every value: each either returns or refuses.
void walk(const ValueReader& v, int depth) {
  if (depth > kMaxDepth) return;
  refused_or_ok([&] { (void)v.as_int(); });
  refused_or_ok([&] { (void)v.as_int(1, 1000); });
  refused_or_ok([&] { (void)v.as_number(); });
  refused_or_ok([&] { (void)v.as_number(0.0, 1.0); });
  refused_or_ok([&] { (void)v.as_bool(); });
  refused_or_ok([&] { (void)v.as_string(1, 200); });
  refused_or_ok([&] {
    const std::vector<float> e = read_embedding(v);
    engram::check_embedding(e.data(), e.size(), e.size(), v.path());  // finite, non-zero norm
  });
  refused_or_ok([&] {
    ObjectReader o = v.as_object();
    walk_object(std::move(o), v.element().get_object().value_unsafe(), depth);
  });
  refused_or_ok([&] {
    const ArrayReader a = v.as_array(0, 100000);
    for (std::size_t i = 0; i < a.size() && i < kMaxArrayItems; ++i) walk(a.at(i), depth + 1);
  });
}

void read_json_body(std::string_view body) {
  refused_or_ok([&] {
    const JsonDocument doc(body, "Body");
    walk_object(doc.object(), doc.root().get_object().value_unsafe(), 0);
  });
}

// embedding_input.cpp's is_octet_stream, on the header value (it takes a RequestContext)
bool octet_stream_type(std::string_view content_type) {
  std::string_view t = content_type.substr(0, content_type.find(';'));
  while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
  std::string lower(t);
  for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return lower == "application/octet-stream";
}

void route_request(const http::request<http::string_body>& req) {
  (void)beast::websocket::is_upgrade(req);
  const std::string_view target(req.target().data(), req.target().size());
  const std::string_view path = target.substr(0, target.find('?'));
  const std::string method(req.method_string());
  const auto m = routes().match(method, path);
  if (!m.route) {
    check_refusal(not_found_route(path));
    return;
  }
  for (const auto& param : m.params.values) {
    const std::string& value = param.second;  // not a structured binding: clang 14 cannot capture one
    if (param.first == "space") {
      const bool valid = engram::is_valid_space_name(value);
      refused_or_ok([&] { engram::check_space_name(value); });
      if (!valid && !engram::is_valid_utf8(engram::preview(value, 64))) fail();
    }
  }
  if (!m.route->body) return;
  const std::string_view body = req.body();
  const auto ct = req.find(http::field::content_type);
  if (ct != req.end() && octet_stream_type(std::string_view(ct->value().data(), ct->value().size()))) {
    refused_or_ok([&] { (void)decode_f32le(body, "body"); });
    return;
  }
  read_json_body(body);
  refused_or_ok([&] { (void)decode_f32le(decode_base64(body, "body"), "body"); });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  beast::flat_buffer buffer;
  buffer.commit(boost::asio::buffer_copy(buffer.prepare(size), boost::asio::buffer(data, size)));
  for (int n = 0; n < kMaxPipelined && buffer.size() > 0; ++n) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(config().max_header_bytes));
    parser.body_limit(static_cast<std::uint64_t>(config().max_body_bytes));
    parser.eager(true);
    beast::error_code ec;
    while (!parser.is_done()) {
      const std::size_t used = parser.put(buffer.data(), ec);
      buffer.consume(used);
      if (ec == http::error::need_more && used > 0) {
        ec = {};
        continue;
      }
      break;
    }
    // incomplete (the server waits for the rest, then times out) or refused (400, 413, 431)
    if (ec || !parser.is_done()) return 0;
    route_request(parser.get());
    if (!parser.get().keep_alive()) return 0;
  }
  return 0;
}
