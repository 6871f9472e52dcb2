// Typed errors of the engine. The bindings translate each class once into the matching Python
// exception in engram.errors; messages say what was received and what is expected.
#pragma once

#include <stdexcept>
#include <string>

namespace engram {

class EngramError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Bad input from the caller: NaN, out-of-range confidence, invalid UTF-8, oversized payload.
class InvalidInputError : public EngramError {
 public:
  using EngramError::EngramError;
};

// An embedding whose length does not match the space's dimension.
class DimensionError : public InvalidInputError {
 public:
  using InvalidInputError::InvalidInputError;
};

class SpaceNotFound : public EngramError {
 public:
  using EngramError::EngramError;
};

class SpaceExists : public EngramError {
 public:
  using EngramError::EngramError;
};

// An id that does not name a live memory of this space (unknown, forgotten or another space's).
class MemoryNotFound : public EngramError {
 public:
  using EngramError::EngramError;
};

// A configured limit (memories per space, spaces per engine) would be exceeded.
class CapacityError : public EngramError {
 public:
  using EngramError::EngramError;
};

class StorageError : public EngramError {
 public:
  using EngramError::EngramError;
};

class CorruptionError : public StorageError {
 public:
  using StorageError::StorageError;
};

// A store, file or record of a format version this build does not read (docs/format.md,
// "Versioning"). Unlike corruption it quarantines nothing: the store is left as it was.
class UnsupportedFormatError : public StorageError {
 public:
  using StorageError::StorageError;
};

// An idempotency key reused with a different request fingerprint (HTTP 409 idempotency_conflict).
class IdempotencyConflict : public EngramError {
 public:
  using EngramError::EngramError;
};

// A write refused because the engine's memory is at its critical pressure level
// (memory_budget.hpp); nothing was stored. Retry after retry_after_s, or free memory (forget,
// drop a space). HTTP 507 memory_pressure.
class MemoryPressureError : public EngramError {
 public:
  MemoryPressureError(const std::string& message, double retry_after_s)
      : EngramError(message), retry_after_s_(retry_after_s) {}
  double retry_after_s() const noexcept { return retry_after_s_; }

 private:
  double retry_after_s_;
};

// An operation on an engine that was closed.
class ClosedError : public EngramError {
 public:
  using EngramError::EngramError;
};

}  // namespace engram
