// embedding_input: base64 and raw little-endian float32 embeddings (issue 13's v1 additions).
#include "embedding_input.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <regex>
#include <string>
#include <vector>

#include "api_error.hpp"
#include "json_reader.hpp"
#include "json_writer.hpp"

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

// The OpenAPI document's base64 form (pattern and lengths) states exactly the text the decoder takes
// as whole float32 values: schemathesis's positive and negative checks rely on it (test_fuzz.py).
TEST(EmbeddingInput, DocumentedBase64PatternIsTheDecodersRule) {
  const std::string schema = embedding_schema_json("E");
  JsonDocument doc(schema, "schema");
  const auto forms = doc.object().required("anyOf").as_array(2, 2);
  auto text_form = forms.at(1).as_object();
  const std::regex pattern(std::string(text_form.required("pattern").as_string()));
  const auto min_len = static_cast<std::size_t>(text_form.required("minLength").as_int());
  const auto max_len = static_cast<std::size_t>(text_form.required("maxLength").as_int());
  EXPECT_EQ(max_len, (kMaxEmbeddingDim * 4 + 2) / 3 * 4);
  for (std::size_t n = 0; n <= 40; ++n) {  // every padding of every length of whole and partial floats
    const std::string text = b64(std::string(n, '\x3f'));
    const bool documented = std::regex_match(text, pattern) && text.size() >= min_len && text.size() <= max_len;
    const bool decoded = status_of([&] { decode_f32le(decode_base64(text, "x"), "x"); }) == 200;
    EXPECT_EQ(documented, decoded) << n << " bytes: " << text;
  }
  for (const char* bad : {"AAAAAA=A", "AAAA AA==", "AAAAAAA=", "AAAAAAAAAAA==", "AAAAAAAAAAAAAAAA="}) {
    EXPECT_FALSE(std::regex_match(std::string(bad), pattern)) << bad;
    EXPECT_EQ(status_of([&] { decode_f32le(decode_base64(bad, "x"), "x"); }), 400) << bad;
  }
}
