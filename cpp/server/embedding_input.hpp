// Embeddings in requests, in the three encodings API v1 accepts (issue 13's v1 additions; JSON
// arrays keep working):
//  - a JSON array of numbers (v1);
//  - inside JSON, a string: standard base64 (RFC 4648, padded) of little-endian float32 values,
//    so a 768-d vector costs one 4 KiB string instead of a parse of 768 numbers;
//  - a whole request body of Content-Type application/octet-stream: the raw little-endian
//    float32 bytes (search; its other parameters then come from the query string).
// Every form is checked the same way: finite values, at most max_dim of them, and errors that
// name the field and say what was received and what is expected (ApiError 400 invalid_input).
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "json_reader.hpp"

namespace engram::server {

class RequestContext;

inline constexpr std::size_t kMaxEmbeddingDim = 65536;

// A JSON value holding an embedding: an array of numbers or a base64 float32 string.
std::vector<float> read_embedding(const ValueReader& v, std::size_t max_dim = kMaxEmbeddingDim);

// Raw little-endian float32 bytes (an octet-stream body, or decoded base64); `what` names the
// input in error messages.
std::vector<float> decode_f32le(std::string_view bytes, std::string_view what, std::size_t max_dim = kMaxEmbeddingDim);

// Standard padded base64 to bytes; ApiError 400 naming `what` on any other character or length.
std::string decode_base64(std::string_view text, std::string_view what);

// Whether the request's Content-Type is application/octet-stream (parameters ignored).
bool is_octet_stream(const RequestContext& ctx);

// The schema fragment of an embedding field in the OpenAPI document: the v1 array or the string.
std::string embedding_schema_json(std::string_view title);

}  // namespace engram::server
