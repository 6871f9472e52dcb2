// Little-endian binary encoding of WAL and checkpoint payloads (docs/format.md, "Conventions").
//
// Encoder appends fixed-width values and length-prefixed strings to a byte string; Decoder reads
// them back and throws CorruptionError (never reads past the end) when a payload is shorter than
// its fields claim, so a record that passed its CRC but was written by a buggy or foreign
// writer is still rejected, not misread. x86-64 and aarch64 are little-endian; the static_assert
// keeps a big-endian port from silently writing another format.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

#include "engram/errors.hpp"

namespace engram {

static_assert(std::endian::native == std::endian::little, "the on-disk format is little-endian");

class Encoder {
 public:
  template <class T>
  requires std::is_arithmetic_v<T>
  void put(T v) {
    const std::size_t at = out_.size();
    out_.resize(at + sizeof(T));
    std::memcpy(out_.data() + at, &v, sizeof(T));
  }
  void put_bytes(const void* p, std::size_t n) { out_.append(static_cast<const char*>(p), n); }
  void put_str(std::string_view s) {
    put<std::uint32_t>(static_cast<std::uint32_t>(s.size()));
    out_.append(s.data(), s.size());
  }
  std::string& str() noexcept { return out_; }
  std::string take() noexcept { return std::move(out_); }

 private:
  std::string out_;
};

class Decoder {
 public:
  explicit Decoder(std::string_view in) : in_(in) {}
  template <class T>
  requires std::is_arithmetic_v<T> T get() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, in_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  void get_bytes(void* p, std::size_t n) {
    need(n);
    std::memcpy(p, in_.data() + pos_, n);
    pos_ += n;
  }
  std::string get_str() {
    const auto n = get<std::uint32_t>();
    need(n);
    std::string s(in_.substr(pos_, n));
    pos_ += n;
    return s;
  }
  bool done() const noexcept { return pos_ == in_.size(); }
  std::size_t remaining() const noexcept { return in_.size() - pos_; }

 private:
  void need(std::size_t n) const {
    if (in_.size() - pos_ < n) {
      throw CorruptionError("record payload is truncated: needs " + std::to_string(n) + " more bytes at offset " +
                            std::to_string(pos_) + " of " + std::to_string(in_.size()));
    }
  }
  std::string_view in_;
  std::size_t pos_ = 0;
};

}  // namespace engram
