// Distance kernels with run-time CPU dispatch.
//
// Each instruction set lives in its own translation unit compiled with its own flags
// (src/simd/{scalar,avx2,avx512}.cpp); the active set is chosen once, from the best the CPU
// supports or from ENGRAM_SIMD=scalar|avx2|avx512, and can be changed with set_level() (tests
// use this to prove all paths agree). Thread safety: the active kernel table is an atomic
// pointer to immutable tables, so kernels may be called from any thread at any time.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace engram::simd {

enum class Level { Scalar = 0, Avx2 = 1, Avx512 = 2 };

using DotFn = float (*)(const float* a, const float* b, std::size_t n) noexcept;
// c[i * ldc + j] = dot(a + i * dim, b + j * dim) for i < ra, j < rb (row-major a, b, c).
using GramFn = void (*)(const float* a, std::size_t ra, const float* b, std::size_t rb, std::size_t dim, float* c,
                        std::size_t ldc);

struct Kernels {
  Level level;
  DotFn dot;    // sum a[i] * b[i]
  DotFn l2sq;   // sum (a[i] - b[i])^2
  GramFn gram;  // a b^T: a matrix product (Eigen, cpp/src/simd/gram.inc)
};

const Kernels& scalar_kernels() noexcept;
const Kernels* avx2_kernels() noexcept;    // nullptr when not compiled in
const Kernels* avx512_kernels() noexcept;  // nullptr when not compiled in

// The kernels in use now.
const Kernels& active() noexcept;
Level active_level() noexcept;
// Best level this CPU supports.
Level best_supported() noexcept;
bool supported(Level level) noexcept;
// Throws InvalidInputError when the CPU does not support the level.
void set_level(Level level);
const char* level_name(Level level) noexcept;
std::optional<Level> parse_level(std::string_view name) noexcept;
// A problem with ENGRAM_SIMD found at start-up (unknown name, unsupported level); empty if none.
const std::string& environment_error() noexcept;
const Kernels& kernels_for(Level level);  // throws when unsupported

inline float dot(const float* a, const float* b, std::size_t n) noexcept { return active().dot(a, b, n); }
inline float l2sq(const float* a, const float* b, std::size_t n) noexcept { return active().l2sq(a, b, n); }
inline float norm_sq(const float* a, std::size_t n) noexcept { return active().dot(a, a, n); }

}  // namespace engram::simd
