#include "router.hpp"

#include <stdexcept>

namespace engram::server {

namespace {
std::vector<std::string_view> split(std::string_view path) {
  std::vector<std::string_view> out;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  while (true) {
    const auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}
int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

void RouteTable::add(Route r) {
  for (const auto& existing : routes_) {
    if (existing.method == r.method && existing.path == r.path) {
      throw std::logic_error("route declared twice: " + r.method + " " + r.path);
    }
  }
  // The version is the path's: routes outside /api (health, metrics, the document) have none.
  if (!r.path.starts_with("/api/v")) r.version = 0;
  Compiled c;
  for (auto seg : split(r.path)) c.segments.emplace_back(seg);
  routes_.push_back(std::move(r));
  compiled_.push_back(std::move(c));
}

RouteTable::Match RouteTable::match(std::string_view method, std::string_view path) const {
  Match m;
  const auto segs = split(path);
  const std::string_view want = method == "HEAD" ? std::string_view("GET") : method;
  const auto allow = [&m](std::string_view verb) {
    for (const auto& a : m.allow)
      if (a == verb) return;
    m.allow.emplace_back(verb);
  };
  for (std::size_t i = 0; i < routes_.size(); ++i) {
    const auto& tpl = compiled_[i].segments;
    if (tpl.size() != segs.size()) continue;
    bool ok = true;
    for (std::size_t j = 0; j < tpl.size() && ok; ++j) {
      const auto& t = tpl[j];
      if (!t.empty() && t.front() == '{') {
        ok = !segs[j].empty();  // a parameter matches one non-empty segment
      } else {
        ok = t == segs[j];
      }
    }
    if (!ok) continue;
    m.path_known = true;
    allow(routes_[i].method);
    if (routes_[i].method == "GET") allow("HEAD");
    if (routes_[i].method != want) continue;
    m.route = &routes_[i];
    for (std::size_t j = 0; j < tpl.size(); ++j) {
      const auto& t = tpl[j];
      if (!t.empty() && t.front() == '{') {
        m.params.values.emplace_back(std::string_view(t).substr(1, t.size() - 2), percent_decode(segs[j]));
      }
    }
    return m;  // the first match wins (declaration order); allow is only read when none matched
  }
  return m;
}

std::string allow_header(const std::vector<std::string>& methods) {
  std::string out;
  for (const auto& verb : methods) out += (out.empty() ? "" : ", ") + verb;
  return out;
}

}  // namespace engram::server
