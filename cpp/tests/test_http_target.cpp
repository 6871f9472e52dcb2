// The load executor's HTTP target against a minimal POSIX HTTP/1.1 server in a thread (keep-alive,
// fixed answer) and against a dead port. The Python suite (harness/tests/scenarios/test_native_http.py)
// covers latency from the intended start, error classes and hung servers.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "engram/errors.hpp"
#include "engram/http_target.hpp"
#include "gtest/gtest.h"

namespace engram {
namespace {

// Owns a file descriptor.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd& operator=(Fd&&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

std::uint16_t bound_port(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

Fd listener() {
  Fd fd(::socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::listen(fd.get(), 64);
  return fd;
}

// Answers every request with 200 "{}" on keep-alive connections; counts connections and requests.
// One thread polls everything, so the test needs no locking; it stops when `stop` is set.
class MiniServer {
 public:
  MiniServer() : listen_(listener()), port_(bound_port(listen_.get())), thread_([this] { serve(); }) {}
  ~MiniServer() {
    stop_ = true;
    thread_.join();
  }
  std::uint16_t port() const { return port_; }
  int connections() const { return connections_.load(); }
  int requests() const { return requests_.load(); }

 private:
  void serve() {
    std::vector<int> clients;
    std::vector<std::string> pending;
    while (!stop_) {  // bounded: the destructor sets stop_
      std::vector<pollfd> fds{{listen_.get(), POLLIN, 0}};
      for (const int c : clients) fds.push_back({c, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), 20) <= 0) continue;
      if (fds[0].revents & POLLIN) {
        clients.push_back(::accept(listen_.get(), nullptr, nullptr));
        pending.emplace_back();
        ++connections_;
      }
      for (std::size_t k = 1; k < fds.size(); ++k) {
        if (!(fds[k].revents & (POLLIN | POLLHUP))) continue;
        char buf[65536];
        const ssize_t got = ::read(fds[k].fd, buf, sizeof(buf));
        std::string& in = pending[k - 1];
        if (got <= 0) continue;
        in.append(buf, static_cast<std::size_t>(got));
        for (;;) {  // every complete request in the buffer
          const auto head_end = in.find("\r\n\r\n");
          if (head_end == std::string::npos) break;
          const auto cl = in.find("Content-Length: ");
          const std::size_t body = cl == std::string::npos ? 0 : std::stoul(in.substr(cl + 16));
          if (in.size() < head_end + 4 + body) break;
          in.erase(0, head_end + 4 + body);
          ++requests_;
          static constexpr char kAnswer[] =
              "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
          (void)!::write(fds[k].fd, kAnswer, sizeof(kAnswer) - 1);
        }
      }
    }
    for (const int c : clients) ::close(c);
  }

  Fd listen_;
  std::uint16_t port_;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

struct Arrays {
  explicit Arrays(std::size_t n, std::size_t dim, std::int64_t spacing_ns)
      : start(n), op(n), space(n, 0), vectors(n * dim, 0.25f), k(n, 5), threshold(n, 0.5f), confidence(n, 1.0f) {
    for (std::size_t i = 0; i < n; ++i) {
      start[i] = static_cast<std::int64_t>(i) * spacing_ns;
      op[i] = static_cast<std::uint8_t>(i % 3 == 0   ? LoadOp::Remember
                                        : i % 3 == 1 ? LoadOp::Search
                                                     : LoadOp::RecallEpisodic);
    }
    s.start_ns = start;
    s.op = op;
    s.space = space;
    s.vectors = vectors;
    s.k = k;
    s.threshold = threshold;
    s.confidence = confidence;
    s.dim = dim;
  }
  std::vector<std::int64_t> start;
  std::vector<std::uint8_t> op;
  std::vector<std::int16_t> space;
  std::vector<float> vectors;
  std::vector<std::int32_t> k;
  std::vector<float> threshold, confidence;
  LoadSchedule s;
};

TEST(HttpTarget, KeepAliveConnectionsServeTheWholeSchedule) {
  if (!http_load_available()) GTEST_SKIP() << "built without Boost.Beast/Asio";
  MiniServer server;
  Arrays a(60, 16, 2'000'000);  // 500 ops/s for 120 ms
  HttpLoadOptions o;
  o.port = server.port();
  o.connections = 3;
  o.threads = 2;  // sessions on two I/O threads (the sanitize session runs this under TSan)
  const auto out = run_schedule_http(a.s, {"default"}, o);
  ASSERT_EQ(out.error_code.size(), 60u);
  for (std::size_t i = 0; i < 60; ++i) {
    EXPECT_EQ(out.error_code[i], 0) << "op " << i << ": " << out.error_classes.at(out.error_code[i]);
    EXPECT_GE(out.actual_start_ns[i], a.start[i]);  // never before its intended start
    EXPECT_GE(out.latency_ns[i], 0);
  }
  EXPECT_EQ(server.requests(), 60);
  EXPECT_LE(out.connections_opened, 3);
  EXPECT_EQ(server.connections(), out.connections_opened);
  EXPECT_GT(out.io_thread_cpu_ns, 0);
}

TEST(HttpTarget, ADeadPortEndsTheRunWithConnectErrors) {
  if (!http_load_available()) GTEST_SKIP() << "built without Boost.Beast/Asio";
  std::uint16_t port = 0;
  {
    const Fd fd = listener();  // closed at once: nobody listens on the port afterwards
    port = bound_port(fd.get());
  }
  Arrays a(20, 8, 1'000'000);
  HttpLoadOptions o;
  o.port = port;
  o.connections = 2;
  const auto t = std::chrono::steady_clock::now();
  const auto out = run_schedule_http(a.s, {"default"}, o);
  EXPECT_LT(std::chrono::steady_clock::now() - t, std::chrono::seconds(5));
  ASSERT_EQ(out.error_classes.size(), 2u);
  EXPECT_EQ(out.error_classes[1], "ConnectError");
  for (const auto c : out.error_code) EXPECT_EQ(c, 1);
}

TEST(HttpTarget, InconsistentInputIsRefused) {
  if (!http_load_available()) GTEST_SKIP() << "built without Boost.Beast/Asio";
  Arrays a(4, 8, 1'000'000);
  HttpLoadOptions o;
  EXPECT_THROW(run_schedule_http(a.s, {"default"}, o), InvalidInputError);  // port 0
  o.port = 1;
  EXPECT_THROW(run_schedule_http(a.s, {}, o), InvalidInputError);
  a.space[2] = 3;
  EXPECT_THROW(run_schedule_http(a.s, {"default"}, o), InvalidInputError);
  a.space[2] = 0;
  o.connections = 0;
  EXPECT_THROW(run_schedule_http(a.s, {"default"}, o), InvalidInputError);
}

}  // namespace
}  // namespace engram
