// API v2's cursor pagination of lists (docs/api-versions.md): GET list routes take ?limit= (1 to
// kMaxPageLimit, default kDefaultPageLimit) and ?cursor= (from the previous page), and answer
// "next_cursor": the cursor of the next page, or null on the last one. A list is ordered by its
// key ascending (ids; names for spaces and backups) and a cursor holds the last key of its page
// (hex-encoded: opaque to clients), so the next page starts after that key: pages neither repeat
// nor skip an item that stays in the list while others come and go. API v1 answers whole lists.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "json_writer.hpp"

namespace engram::server {

class RequestContext;

inline constexpr std::size_t kDefaultPageLimit = 100;
inline constexpr std::size_t kMaxPageLimit = 1000;

struct PageQuery {
  bool paged = false;  // API v2: pages; v1: the whole list
  std::size_t limit = kDefaultPageLimit;
  std::optional<std::string> after;  // the decoded key of ?cursor=
};

// The route's paging parameters; ApiError 400 invalid_input for an unknown parameter, a limit out
// of range or a cursor this server did not write.
PageQuery page_query(const RequestContext& ctx);

std::string encode_cursor(std::string_view key);

struct Page {
  std::size_t first = 0, last = 0;         // the items [first, last) of the sorted list
  std::optional<std::string> next_cursor;  // nullopt on the last page
};

// Keys as cursors hold them: ids as decimal text, names as they are.
inline std::string cursor_key(std::int64_t id) { return std::to_string(id); }
inline std::string cursor_key(const std::string& name) { return name; }

// This page of `n` items sorted by key_at(i) ascending (unique keys).
template <class KeyAt>
Page page_of(const PageQuery& q, std::size_t n, KeyAt key_at) {
  if (!q.paged) return Page{0, n, std::nullopt};
  std::size_t lo = 0, hi = n;  // first index whose key is after the cursor's
  if (q.after) {
    using Key = decltype(key_at(std::size_t{0}));
    Key after{};
    if constexpr (std::is_same_v<Key, std::int64_t>) {
      after = std::stoll(*q.after);  // page_query checked the digits of an id cursor's key
    } else {
      after = *q.after;
    }
    while (lo < hi) {
      const std::size_t mid = lo + (hi - lo) / 2;
      if (key_at(mid) <= after) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
  }
  Page p{lo, std::min(n, lo + q.limit), std::nullopt};
  if (p.last < n && p.last > p.first) p.next_cursor = encode_cursor(cursor_key(key_at(p.last - 1)));
  return p;
}

// "next_cursor" (v2 only): the next page's cursor, or null.
inline void write_next_cursor(JsonWriter& w, const PageQuery& q, const Page& p) {
  if (!q.paged) return;
  w.key("next_cursor");
  if (p.next_cursor) {
    w.value(*p.next_cursor);
  } else {
    w.null();
  }
}

}  // namespace engram::server
