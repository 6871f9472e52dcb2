// embedding_input: base64 and raw little-endian float32 embeddings (issue 13's v1 additions).
#include "embedding_input.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "api_error.hpp"
#include "json_reader.hpp"

using namespace engram::server;

namespace {

std::string le_bytes(const std::vector<float>& v) {
  std::string out;
  for (float f : v) {
    std::uint32_t u;
    std::memcpy(&u, &f, 4);
    for (int b = 0; b < 4; ++b) out.push_back(static_cast<char>((u >> (8 * b)) & 0xff));
  }
  return out;
}

std::string b64(const std::string& bytes) {
  static const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const auto g = (static_cast<unsigned char>(bytes[i]) << 16) | (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                   static_cast<unsigned char>(bytes[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out.push_back(a[(g >> s) & 63]);
  }
  if (const auto rest = bytes.size() - i) {
    unsigned g = static_cast<unsigned char>(bytes[i]) << 16;
    if (rest == 2) g |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out.push_back(a[(g >> 18) & 63]);
    out.push_back(a[(g >> 12) & 63]);
    out.push_back(rest == 2 ? a[(g >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

int status_of(const auto& f) {
  try {
    f();
  } catch (const ApiError& e) {
    return e.status;
  }
  return 200;
}

}  // namespace

TEST(EmbeddingInput, Base64RoundTripsEveryPaddingLength) {
  for (const std::string bytes : {std::string("a"), std::string("ab"), std::string("abc"), std::string("abcd")}) {
    EXPECT_EQ(decode_base64(b64(bytes), "x"), bytes);
  }
  EXPECT_EQ(decode_base64("", "x"), "");
}

TEST(EmbeddingInput, Base64RefusesOtherText) {
  for (const char* bad : {"abc", "ab=c", "a===", "ab*d", "=abc", "YQ==YQ==", "YQ= ", "Y\nQ="}) {
    EXPECT_EQ(status_of([&] { decode_base64(bad, "x"); }), 400) << bad;
  }
}

TEST(EmbeddingInput, LittleEndianFloats) {
  const std::vector<float> v{1.5f, -2.25f, 0.0f, 3.4e38f};
  EXPECT_EQ(decode_f32le(le_bytes(v), "x"), v);
  EXPECT_EQ(status_of([&] { decode_f32le(le_bytes(v).substr(1), "x"); }), 400);  // not whole floats
  EXPECT_EQ(status_of([&] { decode_f32le("", "x"); }), 400);
  EXPECT_EQ(status_of([&] { decode_f32le(le_bytes({1.0f, std::nanf("")}), "x"); }), 400);
  EXPECT_EQ(status_of([&] { decode_f32le(le_bytes({std::numeric_limits<float>::infinity()}), "x"); }), 400);
  EXPECT_EQ(status_of([&] { decode_f32le(le_bytes({1, 2, 3}), "x", 2); }), 400);  // over max_dim
}

TEST(EmbeddingInput, JsonArrayOrBase64String) {
  const std::vector<float> v{0.25f, -1.0f, 7.0f};
  const std::string text = R"({"a": [0.25, -1, 7], "b": ")" + b64(le_bytes(v)) + R"(", "c": [], "d": ["1"], "e": 5})";
  JsonDocument doc(text, "T");
  auto o = doc.object();
  EXPECT_EQ(read_embedding(o.required("a")), v);
  EXPECT_EQ(read_embedding(o.required("b")), v);
  EXPECT_EQ(status_of([&] { read_embedding(o.required("c")); }), 400);
  EXPECT_EQ(status_of([&] { read_embedding(o.required("d")); }), 400);
  EXPECT_EQ(status_of([&] { read_embedding(o.required("e")); }), 400);
  try {
    read_embedding(o.required("d"));
  } catch (const ApiError& e) {
    EXPECT_NE(std::string(e.what()).find("d[0]"), std::string::npos) << e.what();
  }
}
