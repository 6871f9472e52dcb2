// Distance kernels: every compiled-in level the CPU supports agrees with a double-precision
// reference within the rounding-error bound of float32 summation, for every length 1..1000.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <random>
#include <vector>

#include "engram/errors.hpp"
#include "engram/simd.hpp"

namespace engram::simd {
namespace {

constexpr Level kAllLevels[] = {Level::Scalar, Level::Avx2, Level::Avx512};

// Higham's gamma_n = n u / (1 - n u): a bound on the relative error of any summation order of
// n rounded terms (u = 2^-24 for float32, 2^-53 for double).
double gamma(std::size_t n, double u) { return static_cast<double>(n) * u / (1.0 - static_cast<double>(n) * u); }
constexpr double kUf = 0x1.0p-24;
constexpr double kUd = 0x1.0p-53;

// Restores the active level when a test that switches levels ends, however it ends.
class LevelGuard {
 public:
  LevelGuard() : saved_(active_level()) {}
  ~LevelGuard() { set_level(saved_); }
  LevelGuard(const LevelGuard&) = delete;
  LevelGuard& operator=(const LevelGuard&) = delete;

 private:
  Level saved_;
};

std::vector<Level> supported_levels() {
  std::vector<Level> out;
  for (const Level l : kAllLevels) {
    if (supported(l)) out.push_back(l);
  }
  return out;
}

TEST(Simd, ScalarIsAlwaysSupportedAndBestIsSupported) {
  EXPECT_TRUE(supported(Level::Scalar));
  EXPECT_TRUE(supported(best_supported()));
  for (const Level l : kAllLevels) {
    if (supported(l)) {
      EXPECT_LE(static_cast<int>(l), static_cast<int>(best_supported())) << level_name(l);
    }
  }
}

TEST(Simd, DotAndL2MatchDoubleReferenceForAllLengthsAndLevels) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<float> uni(-2.0f, 2.0f);
  for (const Level level : supported_levels()) {
    const Kernels& k = kernels_for(level);
    ASSERT_EQ(k.level, level);
    for (std::size_t n = 1; n <= 1000; ++n) {
      // Exactly-sized heap buffers so an over-read past a tail shows up under AddressSanitizer.
      std::vector<float> a(n), b(n);
      for (std::size_t i = 0; i < n; ++i) {
        a[i] = uni(rng);
        b[i] = uni(rng);
      }
      double dot_ref = 0, dot_abs = 0, l2_ref = 0;
      for (std::size_t i = 0; i < n; ++i) {
        const double p = static_cast<double>(a[i]) * b[i];  // exact in double
        dot_ref += p;
        dot_abs += std::fabs(p);
        const double d = static_cast<double>(a[i]) - b[i];
        l2_ref += d * d;
      }
      // Products (or differences and squares) add up to two roundings per term on top of the sum.
      const double dot_tol = (gamma(n + 1, kUf) + gamma(n, kUd)) * dot_abs;
      const double l2_tol = (gamma(n + 2, kUf) + gamma(n + 1, kUd)) * l2_ref;
      EXPECT_NEAR(k.dot(a.data(), b.data(), n), dot_ref, dot_tol) << level_name(level) << " n=" << n;
      EXPECT_NEAR(k.l2sq(a.data(), b.data(), n), l2_ref, l2_tol) << level_name(level) << " n=" << n;
      if (::testing::Test::HasFailure()) return;  // one length is enough to diagnose
    }
  }
}

TEST(Simd, UnalignedInputsAgree) {
  // Offsets 1..3 floats break 16/32/64-byte alignment of the loads.
  std::mt19937_64 rng(11);
  std::normal_distribution<float> normal;
  const std::size_t n = 257;
  std::vector<float> buf_a(n + 3), buf_b(n + 3);
  for (float& x : buf_a) x = normal(rng);
  for (float& x : buf_b) x = normal(rng);
  for (std::size_t off = 0; off < 4; ++off) {
    const float* a = buf_a.data() + off;
    const float* b = buf_b.data() + (3 - off);
    double ref = 0, abs_sum = 0;
    for (std::size_t i = 0; i < n; ++i) {
      ref += static_cast<double>(a[i]) * b[i];
      abs_sum += std::fabs(static_cast<double>(a[i]) * b[i]);
    }
    for (const Level level : supported_levels()) {
      EXPECT_NEAR(kernels_for(level).dot(a, b, n), ref, (gamma(n + 1, kUf) + gamma(n, kUd)) * abs_sum)
          << level_name(level) << " offset " << off;
    }
  }
}

TEST(Simd, GramMatchesDoubleReferenceWithStridedOutput) {
  // Shapes around Eigen's packet and register-block sizes; c is written with a row stride wider
  // than rb, and the padding must stay untouched.
  std::mt19937_64 rng(13);
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  for (const Level level : supported_levels()) {
    const Kernels& k = kernels_for(level);
    for (const auto [ra, rb, dim] : {std::array<std::size_t, 3>{1, 1, 1}, {3, 5, 7}, {17, 33, 768}, {64, 130, 100}}) {
      std::vector<float> a(ra * dim), b(rb * dim);
      for (float& x : a) x = uni(rng);
      for (float& x : b) x = uni(rng);
      const std::size_t ldc = rb + 3;
      std::vector<float> c(ra * ldc, -7.0f);
      k.gram(a.data(), ra, b.data(), rb, dim, c.data(), ldc);
      for (std::size_t i = 0; i < ra; ++i) {
        for (std::size_t j = 0; j < rb; ++j) {
          double ref = 0, abs_sum = 0;
          for (std::size_t d = 0; d < dim; ++d) {
            const double p = static_cast<double>(a[i * dim + d]) * b[j * dim + d];
            ref += p;
            abs_sum += std::fabs(p);
          }
          ASSERT_NEAR(c[i * ldc + j], ref, (gamma(dim + 1, kUf) + gamma(dim, kUd)) * abs_sum)
              << level_name(level) << " " << ra << "x" << rb << "x" << dim << " at " << i << "," << j;
        }
        for (std::size_t j = rb; j < ldc; ++j) ASSERT_EQ(c[i * ldc + j], -7.0f) << level_name(level);
      }
    }
  }
}

TEST(Simd, ZeroLengthIsZero) {
  const float x = 1.0f;
  for (const Level level : supported_levels()) {
    EXPECT_EQ(kernels_for(level).dot(&x, &x, 0), 0.0f) << level_name(level);
    EXPECT_EQ(kernels_for(level).l2sq(&x, &x, 0), 0.0f) << level_name(level);
  }
}

TEST(Simd, IdenticalVectorsHaveZeroDistanceAndNormEqualsDot) {
  std::mt19937_64 rng(3);
  std::normal_distribution<float> normal;
  for (const std::size_t n : {1u, 7u, 16u, 33u, 768u}) {
    std::vector<float> a(n);
    for (float& x : a) x = normal(rng);
    for (const Level level : supported_levels()) {
      const Kernels& k = kernels_for(level);
      EXPECT_EQ(k.l2sq(a.data(), a.data(), n), 0.0f) << level_name(level) << " n=" << n;
      EXPECT_GT(k.dot(a.data(), a.data(), n), 0.0f) << level_name(level) << " n=" << n;
    }
  }
}

TEST(Simd, SetLevelSwitchesActiveKernels) {
  LevelGuard guard;
  for (const Level level : supported_levels()) {
    set_level(level);
    EXPECT_EQ(active_level(), level);
    EXPECT_EQ(&active(), &kernels_for(level));
    const std::vector<float> a = {1, 2, 3}, b = {4, 5, 6};
    EXPECT_FLOAT_EQ(dot(a.data(), b.data(), 3), 32.0f);
    EXPECT_FLOAT_EQ(l2sq(a.data(), b.data(), 3), 27.0f);
    EXPECT_FLOAT_EQ(norm_sq(a.data(), 3), 14.0f);
  }
}

TEST(Simd, SetLevelRejectsUnsupportedLevels) {
  LevelGuard guard;
  const Level before = active_level();
  for (const Level level : kAllLevels) {
    if (supported(level)) continue;
    EXPECT_THROW(set_level(level), InvalidInputError) << level_name(level);
    EXPECT_THROW(kernels_for(level), InvalidInputError) << level_name(level);
    EXPECT_EQ(active_level(), before);
  }
  // A value outside the enumeration is never supported, whatever the CPU.
  const auto bogus = static_cast<Level>(7);
  EXPECT_FALSE(supported(bogus));
  try {
    set_level(bogus);
    FAIL() << "set_level accepted an unknown level";
  } catch (const InvalidInputError& e) {
    EXPECT_NE(std::string(e.what()).find("not supported"), std::string::npos) << e.what();
  }
  EXPECT_EQ(active_level(), before);
}

TEST(Simd, LevelNamesRoundTrip) {
  for (const Level level : kAllLevels) {
    const auto parsed = parse_level(level_name(level));
    ASSERT_TRUE(parsed.has_value()) << level_name(level);
    EXPECT_EQ(*parsed, level);
  }
  EXPECT_FALSE(parse_level("sse4").has_value());
  EXPECT_FALSE(parse_level("").has_value());
  EXPECT_FALSE(parse_level("AVX2").has_value());
}

TEST(Simd, NoEnvironmentErrorWithoutOverride) {
  const char* env = std::getenv("ENGRAM_SIMD");
  if (env == nullptr || *env == '\0') {
    EXPECT_TRUE(environment_error().empty()) << environment_error();
  } else if (const auto parsed = parse_level(env); !parsed || !supported(*parsed)) {
    EXPECT_FALSE(environment_error().empty());
  }
}

}  // namespace
}  // namespace engram::simd
