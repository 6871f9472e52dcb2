#include "engram/validation.hpp"

#include <cmath>
#include <cstdio>

#include "engram/errors.hpp"
#include "engram/simd.hpp"

namespace engram {

std::string format_g(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string dimensional(std::size_t dim) {
  // English article by sound: eight, eighteen, eleven (11, 18, 11000, 18000, ...) take "an".
  const std::string digits = std::to_string(dim);
  const bool eleven_or_eighteen = digits.size() % 3 == 2 && (digits.rfind("11", 0) == 0 || digits.rfind("18", 0) == 0);
  const bool an = digits[0] == '8' || eleven_or_eighteen;
  return std::string(an ? "an " : "a ") + digits + "-dimensional";
}

void check_embedding(const float* data, std::size_t n, std::size_t dim, std::string_view what) {
  if (n != dim) {
    throw DimensionError("expected " + dimensional(dim) + " float32 " + std::string(what) + ", got " +
                         std::to_string(n) + " values");
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(data[i])) {
      throw InvalidInputError(std::string(what) + " contains " + (std::isnan(data[i]) ? "NaN" : "an infinite value") +
                              " at index " + std::to_string(i) + "; expected finite float32 values");
    }
  }
  const float nsq = simd::norm_sq(data, n);
  if (!(nsq > 0.0f)) {
    throw InvalidInputError(std::string(what) + " is a zero vector; cosine similarity needs a non-zero vector");
  }
  if (!std::isfinite(nsq)) {
    throw InvalidInputError(std::string(what) + " norm overflows float32; expected values of moderate magnitude");
  }
}

void check_confidence(double confidence) {
  if (!(confidence >= 0.0 && confidence <= 1.0)) {
    throw InvalidInputError("confidence must be in [0, 1], got " + std::to_string(confidence));
  }
}

void check_timestamp(double timestamp) {
  if (!std::isfinite(timestamp)) {
    throw InvalidInputError("timestamp must be a finite number of seconds since the epoch, got " +
                            std::to_string(timestamp));
  }
}

bool is_valid_utf8(std::string_view s) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len;
    std::uint32_t cp;
    if ((c & 0xe0) == 0xc0) {
      len = 2;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (std::size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3f);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) return false;
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += len;
  }
  return true;
}

void check_utf8(std::string_view s, std::string_view what) {
  if (!is_valid_utf8(s)) throw InvalidInputError(std::string(what) + " is not valid UTF-8; expected UTF-8 text");
}

std::string preview(std::string_view s, std::size_t max_bytes) {
  std::string out;
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > s.size() || !is_valid_utf8(s.substr(i, len))) {
      static constexpr char kHex[] = "0123456789abcdef";
      if (out.size() + 4 > max_bytes) break;
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
      ++i;
      continue;
    }
    if (out.size() + len > max_bytes) break;
    out.append(s.substr(i, len));
    i += len;
  }
  if (i < s.size()) out += "...";
  return out;
}

bool is_valid_space_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > kSpaceNameMax) return false;
  bool only_dots = true;
  for (const char c : name) {
    const bool word =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!word && c != '.') return false;
    only_dots = only_dots && !word;
  }
  return !only_dots;
}

void check_space_name(std::string_view name) {
  if (!is_valid_space_name(name)) {
    throw InvalidInputError("invalid space name '" + preview(name) + "'; expected " + std::string(kSpaceNameRule));
  }
}

}  // namespace engram
