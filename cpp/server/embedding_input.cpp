#include "embedding_input.hpp"

#include "api_error.hpp"

namespace engram::server {

std::vector<float> read_embedding(const ValueReader& v, std::size_t max_dim) {
  std::vector<float> out = v.as_float_array(max_dim);
  if (out.empty()) {
    throw ApiError(400, "invalid_input", v.path() + " must be a non-empty array of numbers, got an empty array");
  }
  return out;
}

}  // namespace engram::server
