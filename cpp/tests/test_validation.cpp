// Input checks: UTF-8 validation, embeddings, confidence, timestamps, space names.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "engram/errors.hpp"
#include "engram/validation.hpp"

namespace engram {
namespace {

// Reference UTF-8 encoder for a single code point.
std::string encode(std::uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xc0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    s += static_cast<char>(0xe0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    s += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    s += static_cast<char>(0xf0 | (cp >> 18));
    s += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    s += static_cast<char>(0x80 | (cp & 0x3f));
  }
  return s;
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return {};
}

TEST(Validation, Utf8AcceptsEveryScalarValueAndRejectsSurrogates) {
  for (std::uint32_t cp = 0; cp <= 0x10ffff; ++cp) {
    const bool surrogate = cp >= 0xd800 && cp <= 0xdfff;
    ASSERT_EQ(is_valid_utf8(encode(cp)), !surrogate) << std::hex << "U+" << cp;
  }
}

TEST(Validation, Utf8RejectsMalformedSequences) {
  const std::vector<std::string> bad = {
      "\x80",                  // stray continuation byte
      "\xbf",                  //
      "\xc0\xaf",              // overlong '/'
      "\xc1\xbf",              // overlong
      "\xe0\x80\xaf",          // overlong 3-byte
      "\xe0\x9f\xbf",          // overlong 3-byte, highest
      "\xf0\x80\x80\xaf",      // overlong 4-byte
      "\xf0\x8f\xbf\xbf",      // overlong 4-byte, highest
      "\xf4\x90\x80\x80",      // U+110000
      "\xf5\x80\x80\x80",      // lead byte beyond U+10FFFF
      "\xf8\x88\x80\x80\x80",  // 5-byte form
      "\xfe",
      "\xff",
      "\xc3",          // truncated 2-byte
      "\xe2\x82",      // truncated 3-byte
      "\xf0\x9f\x98",  // truncated 4-byte
      "\xc3\x28",      // bad continuation
      "\xe2\x28\xa1",  //
      "\xed\xa0\x80",  // U+D800
      "\xed\xbf\xbf",  // U+DFFF
      "abc\xff",       // valid prefix, bad tail
  };
  for (const std::string& s : bad) {
    EXPECT_FALSE(is_valid_utf8(s)) << "accepted bytes of length " << s.size();
    EXPECT_THROW(check_utf8(s, "content"), InvalidInputError);
  }
}

TEST(Validation, Utf8AcceptsValidText) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_TRUE(is_valid_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  EXPECT_TRUE(is_valid_utf8("\xf4\x8f\xbf\xbf"));      // U+10FFFF
  EXPECT_TRUE(is_valid_utf8(std::string("a\0b", 3)));  // NUL is a valid code point
  EXPECT_NO_THROW(check_utf8("ok", "content"));
  EXPECT_NE(message_of([] { check_utf8("\xff", "metadata key"); }).find("metadata key"), std::string::npos);
}

TEST(Validation, EmbeddingDimensionMismatch) {
  const std::vector<float> v = {1, 2, 3};
  EXPECT_THROW(check_embedding(v.data(), 3, 4), DimensionError);
  EXPECT_THROW(check_embedding(v.data(), 3, 2), DimensionError);
  // DimensionError is an InvalidInputError, so a caller catching the broader class sees it.
  EXPECT_THROW(check_embedding(v.data(), 3, 4), InvalidInputError);
  const std::string msg = message_of([&] { check_embedding(v.data(), 3, 4); });
  EXPECT_NE(msg.find("4-dimensional"), std::string::npos) << msg;
  EXPECT_NE(msg.find("got 3"), std::string::npos) << msg;
  EXPECT_NO_THROW(check_embedding(v.data(), 3, 3));
}

TEST(Validation, EmbeddingNonFiniteValues) {
  for (const float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                          -std::numeric_limits<float>::infinity()}) {
    std::vector<float> v = {1, 2, 3, 4, 5};
    v[3] = bad;
    try {
      check_embedding(v.data(), v.size(), v.size());
      FAIL() << "accepted " << bad;
    } catch (const DimensionError&) {
      FAIL() << "a bad value is not a dimension error";
    } catch (const InvalidInputError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("index 3"), std::string::npos) << msg;
      EXPECT_NE(msg.find(std::isnan(bad) ? "NaN" : "infinite"), std::string::npos) << msg;
    }
  }
}

TEST(Validation, EmbeddingZeroAndOverflowingNorm) {
  const std::vector<float> zero(8, 0.0f);
  EXPECT_THROW(check_embedding(zero.data(), 8, 8), InvalidInputError);
  EXPECT_NE(message_of([&] { check_embedding(zero.data(), 8, 8); }).find("zero"), std::string::npos);
  const std::vector<float> huge(8, 1e30f);  // finite values whose squared norm overflows float32
  EXPECT_THROW(check_embedding(huge.data(), 8, 8), InvalidInputError);
  const std::vector<float> neg = {-1.0f, 0.0f};
  EXPECT_NO_THROW(check_embedding(neg.data(), 2, 2));
}

TEST(Validation, Confidence) {
  for (const double ok : {0.0, 1e-9, 0.5, 1.0}) EXPECT_NO_THROW(check_confidence(ok)) << ok;
  for (const double bad : {-1e-9, -1.0, 1.0000001, 2.0, std::numeric_limits<double>::quiet_NaN(),
                           std::numeric_limits<double>::infinity()}) {
    EXPECT_THROW(check_confidence(bad), InvalidInputError) << bad;
  }
  EXPECT_NE(message_of([] { check_confidence(1.5); }).find("[0, 1]"), std::string::npos);
}

TEST(Validation, Timestamp) {
  EXPECT_NO_THROW(check_timestamp(0.0));
  EXPECT_NO_THROW(check_timestamp(1.7e9));
  EXPECT_NO_THROW(check_timestamp(-5.0));  // before the epoch is still a time
  EXPECT_THROW(check_timestamp(std::numeric_limits<double>::quiet_NaN()), InvalidInputError);
  EXPECT_THROW(check_timestamp(std::numeric_limits<double>::infinity()), InvalidInputError);
  EXPECT_THROW(check_timestamp(-std::numeric_limits<double>::infinity()), InvalidInputError);
}

TEST(Validation, SpaceNames) {
  for (const std::string ok :
       {std::string("a"), std::string("user-42"), std::string("tenant_A.v2"), std::string(64, 'x')}) {
    EXPECT_NO_THROW(check_space_name(ok)) << ok;
  }
  for (const std::string bad :
       {std::string(), std::string(65, 'x'), std::string("a b"), std::string("a/b"), std::string("caf\xc3\xa9"),
        std::string("a\0b", 3), std::string("name\n"), std::string("."), std::string(".."), std::string("...")}) {
    EXPECT_THROW(check_space_name(bad), InvalidInputError) << bad;
  }
  EXPECT_NE(message_of([] { check_space_name("a b"); }).find("1-64"), std::string::npos);
  EXPECT_NE(message_of([] { check_space_name(".."); }).find("not only dots"), std::string::npos);
}

// The pattern exported for schemas says what the function decides (length apart).
TEST(Validation, SpaceNamePatternAgreesWithTheRule) {
  const std::regex pattern{std::string(kSpaceNamePattern)};
  std::mt19937 rng(7);
  const std::string alphabet = "aZ09_-./ \x01\xc3";
  for (int i = 0; i < 20000; ++i) {
    std::string name(1 + rng() % 6, ' ');
    for (char& c : name) c = alphabet[rng() % alphabet.size()];
    EXPECT_EQ(std::regex_match(name, pattern), is_valid_space_name(name)) << name;
  }
}

}  // namespace
}  // namespace engram
