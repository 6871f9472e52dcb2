// API keys (the file `engram keys` writes, engram/server/auth.py): a key is engram_<id>_<secret>; the file
// maps ids to {"hash": "sha256:<hex>", "spaces": [...] or ["*"], "role": read|write|admin}.
// Hashes are compared in constant time, against a dummy when the id is unknown so timing does
// not reveal which ids exist. The file is re-read when its mtime or size changes (the server polls
// every key_reload_interval_s) and on SIGHUP; a bad file keeps the old keys.
//
// Authorisation rule (issue 13, defects 3 and 4): a route declares a role and whether it acts on
// one space (named in the path or the body) or on the whole engine. A key acts on a space it was
// granted (or "*"); an engine-wide route needs a key granted "*": an admin scoped to some spaces
// administers those spaces only.
//
// Locking: KeyStore::mu_ guards the key map; principals are immutable and shared by pointer, so a
// request keeps a consistent principal across a reload.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engram/thread_annotations.hpp"

namespace engram::server {

enum class Role { Public = -1, Read = 0, Write = 1, Admin = 2 };
std::string_view role_name(Role r) noexcept;

struct Principal {
  std::string key_id;
  Role role = Role::Read;
  std::vector<std::string> spaces;  // "*" grants every space
  bool all_spaces() const noexcept;
  bool can(Role needed) const noexcept { return static_cast<int>(role) >= static_cast<int>(needed); }
  bool grants(std::string_view space) const noexcept;
  // ApiError 403 "forbidden" unless this key has the role and the space (or, engine-wide, "*").
  void authorize(Role needed, const std::optional<std::string>& space, bool engine_wide) const;
};

std::shared_ptr<const Principal> anonymous_admin();
std::string sha256_hex(std::string_view data);
std::string hash_key(std::string_view key);  // "sha256:<hex>"
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

class KeyStore {
 public:
  explicit KeyStore(std::string path);  // loads now; throws std::runtime_error on a bad file
  // Re-reads when the file changed (or always when forced); true when reloaded. Throws
  // std::runtime_error (the old keys stay) on an unreadable or invalid file.
  bool reload(bool force = false) EXCLUDES(mu_);
  std::size_t size() const EXCLUDES(mu_);
  // The principal of an Authorization header value; ApiError 401 "unauthenticated" otherwise.
  std::shared_ptr<const Principal> authenticate(std::optional<std::string_view> authorization) const EXCLUDES(mu_);
  const std::string& path() const noexcept { return path_; }

 private:
  struct Entry {
    std::string hash;
    std::shared_ptr<const Principal> principal;
  };
  const std::string path_;
  mutable Mutex mu_;
  std::unordered_map<std::string, Entry> keys_ GUARDED_BY(mu_);
  std::optional<std::pair<std::int64_t, std::int64_t>> stamp_ GUARDED_BY(mu_);  // mtime ns, size
};

// Parses a key file's text; std::runtime_error naming the problem.
std::unordered_map<std::string, std::pair<std::string, std::shared_ptr<const Principal>>> parse_key_file(
    std::string_view text, std::string_view source);

}  // namespace engram::server
