// Input checks shared by every entry point. Each throws a typed error whose message says what
// was received and what is expected. Pure functions; safe from any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace engram {

// Length must equal dim; values finite; norm finite and non-zero.
void check_embedding(const float* data, std::size_t n, std::size_t dim, std::string_view what = "embedding");
void check_confidence(double confidence);
void check_timestamp(double timestamp);
// Valid UTF-8 (no overlongs, no surrogates, no code points above U+10FFFF).
bool is_valid_utf8(std::string_view s) noexcept;
void check_utf8(std::string_view s, std::string_view what);
// "a 768-dimensional", "an 8-dimensional": the phrase error messages use for a dimension.
std::string dimensional(std::size_t dim);
// A number as printf's %g writes it: short text for error messages and metric labels
// (1e-06 rather than 9.9999999999999995e-07).
std::string format_g(double v);
// At most max_bytes of s for an error message, always valid UTF-8: cut on a character boundary,
// invalid bytes shown as \xNN, and "..." appended when something was cut. Messages are
// decoded as UTF-8 by the bindings, so a split character would turn an error into a crash.
std::string preview(std::string_view s, std::size_t max_bytes = 80);
// Space names, the one rule (the bindings export it to Python, the server's schemas use it):
// 1-64 characters of [A-Za-z0-9_.-], not only dots ("." and ".." are path segments, so a space
// so named could not be reached through a URL). kSpaceNamePattern says the same as a regular
// expression with no look-around (every regex engine takes it), with the length apart.
inline constexpr std::size_t kSpaceNameMax = 64;
inline constexpr std::string_view kSpaceNamePattern = "^[A-Za-z0-9_.-]*[A-Za-z0-9_-][A-Za-z0-9_.-]*$";
inline constexpr std::string_view kSpaceNameRule = "1-64 characters of letters, digits, '_', '-' or '.', not only dots";
bool is_valid_space_name(std::string_view name) noexcept;
void check_space_name(std::string_view name);

}  // namespace engram
