// Reading an embedding from a request body: one function, so every route that takes a vector
// accepts the same encodings with the same errors (the compact encodings of issue 13, base64 or
// octet-stream, plug in here). Today: a JSON array of 1 to 65536 finite numbers that fit a
// float32; strings, booleans and nulls as values are refused, never coerced (defect 15).
#pragma once

#include <cstddef>
#include <vector>

#include "json_reader.hpp"

namespace engram::server {

inline constexpr std::size_t kMaxEmbeddingDim = 65536;

// ApiError 400 invalid_input naming the field (v.path()) and what was received.
std::vector<float> read_embedding(const ValueReader& v, std::size_t max_dim = kMaxEmbeddingDim);

}  // namespace engram::server
