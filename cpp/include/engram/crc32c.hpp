// CRC32C (Castagnoli), the checksum of every WAL record and checkpoint.
//
// Uses the SSE4.2 crc32 instruction when the CPU has it (chosen once at run time), else a
// table-driven software loop; both give identical values (RFC 3720 test vectors in the tests).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace engram {

// Continues a CRC: pass the previous result as `crc` (0 to start).
std::uint32_t crc32c(const void* data, std::size_t n, std::uint32_t crc = 0) noexcept;
inline std::uint32_t crc32c(std::string_view s, std::uint32_t crc = 0) noexcept {
  return crc32c(s.data(), s.size(), crc);
}

}  // namespace engram
