#include "auth.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <simdjson.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "api_error.hpp"

namespace engram::server {

std::string_view role_name(Role r) noexcept {
  switch (r) {
    case Role::Public: return "public";
    case Role::Read: return "read";
    case Role::Write: return "write";
    case Role::Admin: return "admin";
  }
  return "?";
}

bool Principal::all_spaces() const noexcept {
  for (const auto& s : spaces)
    if (s == "*") return true;
  return false;
}

bool Principal::grants(std::string_view space) const noexcept {
  for (const auto& s : spaces)
    if (s == "*" || s == space) return true;
  return false;
}

void Principal::authorize(Role needed, const std::optional<std::string>& space, bool engine_wide) const {
  if (!can(needed)) {
    throw ApiError(403, "forbidden",
                   "key '" + key_id + "' has role '" + std::string(role_name(role)) + "'; this operation needs '" +
                       std::string(role_name(needed)) + "'");
  }
  if (engine_wide && !all_spaces()) {
    throw ApiError(403, "forbidden",
                   "key '" + key_id +
                       "' is granted only some spaces; this operation acts on the whole engine and needs a key "
                       "granted '*'");
  }
  if (space && !grants(*space)) {
    throw ApiError(403, "forbidden", "key '" + key_id + "' is not granted space '" + *space + "'");
  }
}

std::shared_ptr<const Principal> anonymous_admin() {
  static const auto p = std::make_shared<const Principal>(Principal{"(auth disabled)", Role::Admin, {"*"}});
  return p;
}

std::string sha256_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_Digest(data.data(), data.size(), md, &n, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("OpenSSL SHA-256 failed");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (unsigned i = 0; i < n; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 0xF]);
  }
  return out;
}

std::string hash_key(std::string_view key) { return "sha256:" + sha256_hex(key); }

bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

namespace {
std::optional<std::string> key_id(std::string_view key) {
  constexpr std::string_view kPrefix = "engram_";
  if (key.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  const auto rest = key.substr(kPrefix.size());
  const auto sep = rest.find('_');  // ids have no "_"; secrets may
  if (sep == std::string_view::npos || sep == 0) return std::nullopt;
  return std::string(rest.substr(0, sep));
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read the API key file " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}
}  // namespace

std::unordered_map<std::string, std::pair<std::string, std::shared_ptr<const Principal>>> parse_key_file(
    std::string_view text, std::string_view source) {
  namespace dom = simdjson::dom;
  const std::string where = "invalid API key file " + std::string(source) + ": ";
  dom::parser parser;
  auto doc = parser.parse(text.data(), text.size(), true);
  if (doc.error()) throw std::runtime_error(where + simdjson::error_message(doc.error()));
  auto keys = doc["keys"].get_object();
  if (keys.error()) throw std::runtime_error(where + "expected an object with a \"keys\" object");
  std::unordered_map<std::string, std::pair<std::string, std::shared_ptr<const Principal>>> out;
  for (auto [kid_v, entry] : keys.value_unsafe()) {
    const std::string kid(kid_v);
    std::string_view role_s, hash;
    if (entry["role"].get_string().get(role_s)) throw std::runtime_error(where + "key '" + kid + "': role missing");
    Role role;
    if (role_s == "read") {
      role = Role::Read;
    } else if (role_s == "write") {
      role = Role::Write;
    } else if (role_s == "admin") {
      role = Role::Admin;
    } else {
      throw std::runtime_error(where + "key '" + kid + "': role '" + std::string(role_s) +
                               "' is not one of read, write, admin");
    }
    dom::array spaces;
    if (entry["spaces"].get_array().get(spaces)) {
      throw std::runtime_error(where + "key '" + kid + "': spaces must be a list of names or ['*']");
    }
    Principal p{kid, role, {}};
    for (auto s : spaces) {
      std::string_view name;
      if (s.get_string().get(name)) {
        throw std::runtime_error(where + "key '" + kid + "': spaces must be a list of names or ['*']");
      }
      p.spaces.emplace_back(name);
    }
    if (entry["hash"].get_string().get(hash) || hash.substr(0, 7) != "sha256:") {
      throw std::runtime_error(where + "key '" + kid + "': hash must be 'sha256:<hex>'");
    }
    out[kid] = {std::string(hash), std::make_shared<const Principal>(std::move(p))};
  }
  return out;
}

KeyStore::KeyStore(std::string path) : path_(std::move(path)) { reload(true); }

bool KeyStore::reload(bool force) {
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) throw std::runtime_error("cannot stat the API key file " + path_);
  const std::pair<std::int64_t, std::int64_t> stamp{
      static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
      static_cast<std::int64_t>(st.st_size)};
  {
    MutexLock lock(mu_);
    if (!force && stamp_ == stamp) return false;
  }
  auto parsed = parse_key_file(read_file(path_), path_);
  std::unordered_map<std::string, Entry> keys;
  for (auto& [kid, e] : parsed) keys.emplace(kid, Entry{std::move(e.first), std::move(e.second)});
  MutexLock lock(mu_);
  keys_ = std::move(keys);
  stamp_ = stamp;
  return true;
}

std::size_t KeyStore::size() const {
  MutexLock lock(mu_);
  return keys_.size();
}

std::shared_ptr<const Principal> KeyStore::authenticate(std::optional<std::string_view> authorization) const {
  if (!authorization || authorization->empty()) {
    throw ApiError(401, "unauthenticated", "missing API key; send 'Authorization: Bearer engram_<id>_<secret>'");
  }
  const std::string_view h = *authorization;
  const auto sp = h.find(' ');
  std::string scheme(h.substr(0, sp));
  for (auto& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string_view token = sp == std::string_view::npos ? std::string_view{} : h.substr(sp + 1);
  while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) token.remove_prefix(1);
  while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
  if (scheme != "bearer" || token.empty()) {
    throw ApiError(401, "unauthenticated", "the Authorization header must be 'Bearer <api key>'");
  }
  const auto kid = key_id(token);
  std::string stored;
  std::shared_ptr<const Principal> principal;
  {
    MutexLock lock(mu_);
    if (kid) {
      if (auto it = keys_.find(*kid); it != keys_.end()) {
        stored = it->second.hash;
        principal = it->second.principal;
      }
    }
  }
  static const std::string dummy = hash_key("engram_unknown_" + std::string(43, '0'));
  const bool match = constant_time_equal(principal ? stored : dummy, hash_key(token));
  if (!match || !principal) throw ApiError(401, "unauthenticated", "unknown or revoked API key");
  return principal;
}

}  // namespace engram::server
