#include "embedding_input.hpp"

#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>

#include "api_error.hpp"
#include "context.hpp"
#include "json_writer.hpp"

namespace engram::server {

namespace {

[[noreturn]] void invalid(std::string_view what, const std::string& message) {
  throw ApiError(400, "invalid_input", "invalid request body: " + std::string(what) + ": " + message).at(what);
}

constexpr std::array<std::int8_t, 256> kBase64 = [] {
  std::array<std::int8_t, 256> t{};
  for (auto& x : t) x = -1;
  constexpr std::string_view a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (std::size_t i = 0; i < a.size(); ++i) t[static_cast<unsigned char>(a[i])] = static_cast<std::int8_t>(i);
  return t;
}();

}  // namespace

std::string decode_base64(std::string_view text, std::string_view what) {
  if (text.size() % 4 != 0) {
    invalid(what, "expected padded base64 (a length that is a multiple of 4), got " + std::to_string(text.size()) +
                      " characters");
  }
  std::string out;
  out.reserve(text.size() / 4 * 3);
  std::size_t i = 0;
  // The groups before the last hold no padding: four lookups and one check per group. A group
  // with anything outside the alphabet is left to the checking loop below, which names it.
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  for (; i + 4 < text.size(); i += 4) {
    const int a = kBase64[p[i]], b = kBase64[p[i + 1]], c = kBase64[p[i + 2]], d = kBase64[p[i + 3]];
    if ((a | b | c | d) < 0) break;
    const auto g = static_cast<std::uint32_t>((a << 18) | (b << 12) | (c << 6) | d);
    out.push_back(static_cast<char>(g >> 16));
    out.push_back(static_cast<char>((g >> 8) & 0xff));
    out.push_back(static_cast<char>(g & 0xff));
  }
  for (; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    int pad = 0;
    std::uint32_t group = 0;
    for (std::size_t j = 0; j < 4; ++j) {
      const char c = text[i + j];
      if (c == '=' && last && j >= 2 && (j == 3 || text[i + 3] == '=')) {
        ++pad;
        group <<= 6;
        continue;
      }
      const std::int8_t v = kBase64[static_cast<unsigned char>(c)];
      if (v < 0 || pad > 0) {
        const auto byte = static_cast<unsigned char>(c);
        std::string msg = "expected base64 of little-endian float32 values, got ";
        if (byte < 0x20 || byte > 0x7e) {
          msg += "the byte " + std::to_string(byte);
        } else {
          msg += "the character '";
          msg.push_back(c);
          msg += "'";
        }
        invalid(what, msg + " at offset " + std::to_string(i + j));
      }
      group = (group << 6) | static_cast<std::uint32_t>(v);
    }
    out.push_back(static_cast<char>((group >> 16) & 0xff));
    if (pad < 2) out.push_back(static_cast<char>((group >> 8) & 0xff));
    if (pad < 1) out.push_back(static_cast<char>(group & 0xff));
  }
  return out;
}

std::vector<float> decode_f32le(std::string_view bytes, std::string_view what, std::size_t max_dim) {
  if (bytes.empty() || bytes.size() % 4 != 0) {
    invalid(what, "expected a non-empty sequence of little-endian float32 values (a multiple of 4 bytes), got " +
                      std::to_string(bytes.size()) + " bytes");
  }
  const std::size_t n = bytes.size() / 4;
  if (n > max_dim) invalid(what, "expected at most " + std::to_string(max_dim) + " values, got " + std::to_string(n));
  std::vector<float> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    std::uint32_t u = 0;
    for (std::size_t b = 0; b < 4; ++b)
      u |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i * 4 + b])) << (8 * b);
    const float f = std::bit_cast<float>(u);
    if (!std::isfinite(f))
      invalid(std::string(what) + "[" + std::to_string(i) + "]", "expected a finite number, got " + std::to_string(f));
    out[i] = f;
  }
  return out;
}

std::vector<float> read_embedding(const ValueReader& v, std::size_t max_dim) {
  std::vector<float> out;
  if (v.element().is_string()) {
    const std::string_view text = v.as_string(0, (max_dim * 4 + 2) / 3 * 4);
    out = decode_f32le(decode_base64(text, v.path()), v.path(), max_dim);
  } else {
    out = v.as_float_array(max_dim);
  }
  if (out.empty()) invalid(v.path(), "expected a non-empty embedding, got an empty one");
  return out;
}

bool is_octet_stream(const RequestContext& ctx) {
  const auto ct = ctx.header("content-type");
  if (!ct) return false;
  std::string_view t = ct->substr(0, ct->find(';'));
  while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
  std::string lower(t);
  for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return lower == "application/octet-stream";
}

std::string embedding_schema_json(std::string_view title) {
  constexpr double kF32Max = std::numeric_limits<float>::max();
  JsonWriter w;
  w.begin_object().key("anyOf").begin_array();
  w.begin_object().key("items").begin_object();
  w.field("maximum", kF32Max).field("minimum", -kF32Max).field("type", "number").end_object();
  w.field("maxItems", static_cast<std::uint64_t>(kMaxEmbeddingDim)).field("minItems", std::uint64_t{1});
  w.field("type", "array").end_object();
  // What decode_base64 and decode_f32le accept, but for the values' finiteness (bit patterns a
  // pattern could only spell out absurdly): whole float32 values, 4 bytes each, so the text is
  // 16-character groups (3 floats) and a padded tail of 1 float (6 characters and "==") or 2
  // floats (11 and "="); at least one value.
  w.begin_object().field("contentEncoding", "base64");
  w.field("description", "base64 (RFC 4648, padded) of little-endian float32 values");
  w.field("maxLength", static_cast<std::uint64_t>((kMaxEmbeddingDim * 4 + 2) / 3 * 4))
      .field("minLength", std::uint64_t{8});
  w.field("pattern", "^(?:[A-Za-z0-9+/]{16})*(?:[A-Za-z0-9+/]{6}==|[A-Za-z0-9+/]{11}=)?$");
  w.field("type", "string").end_object();
  w.end_array().field("title", title).end_object();
  return w.take();
}

}  // namespace engram::server
