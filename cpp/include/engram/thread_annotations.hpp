// Clang thread-safety analysis (-Wthread-safety): the attribute macros, and the annotated mutex
// and lock types the engine uses in place of std::mutex / std::shared_mutex and their lockers,
// which libstdc++ does not annotate. With other compilers the macros expand to nothing and the
// types are thin inline wrappers (no cost over the std types).
//
// What the analysis checks (nox -s thread_safety builds with clang++ -Wthread-safety
// -Wthread-safety-beta -Werror): members marked GUARDED_BY are touched only with their mutex
// held, functions marked REQUIRES are called only with it held, every lock taken is released,
// and mutexes declared ACQUIRED_AFTER one another in one class are taken in that order. It works
// one function at a time and cannot follow: a lock held on only some paths (the WAL gate, held
// only by durable engines: std::shared_lock over SharedMutex, which the analysis does not see),
// a lock whose holder is another object (a Space's operation lock held by an algorithm that
// calls back into the Space from worker lambdas), or locks chosen at run time (the HNSW per-node
// spin locks, one per node). Those places say so where they are declared.
//
// The engine's lock order is in engine.hpp ("Lock order"). Each mutex names its class
// (lock_stats.hpp): a contended acquisition is counted and timed there.
#pragma once

#include <chrono>
#include <mutex>
#include <shared_mutex>

#include "engram/lock_stats.hpp"

#if defined(__clang__)
#define ENGRAM_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define ENGRAM_THREAD_ANNOTATION(x)
#endif

#define CAPABILITY(x) ENGRAM_THREAD_ANNOTATION(capability(x))
#define SCOPED_CAPABILITY ENGRAM_THREAD_ANNOTATION(scoped_lockable)
#define GUARDED_BY(x) ENGRAM_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) ENGRAM_THREAD_ANNOTATION(pt_guarded_by(x))
#define ACQUIRED_BEFORE(...) ENGRAM_THREAD_ANNOTATION(acquired_before(__VA_ARGS__))
#define ACQUIRED_AFTER(...) ENGRAM_THREAD_ANNOTATION(acquired_after(__VA_ARGS__))
#define REQUIRES(...) ENGRAM_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) ENGRAM_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))
#define ACQUIRE(...) ENGRAM_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) ENGRAM_THREAD_ANNOTATION(acquire_shared_capability(__VA_ARGS__))
#define RELEASE(...) ENGRAM_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) ENGRAM_THREAD_ANNOTATION(release_shared_capability(__VA_ARGS__))
#define RELEASE_GENERIC(...) ENGRAM_THREAD_ANNOTATION(release_generic_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) ENGRAM_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#define TRY_ACQUIRE_SHARED(...) ENGRAM_THREAD_ANNOTATION(try_acquire_shared_capability(__VA_ARGS__))
#define EXCLUDES(...) ENGRAM_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define ASSERT_CAPABILITY(x) ENGRAM_THREAD_ANNOTATION(assert_capability(x))
#define ASSERT_SHARED_CAPABILITY(x) ENGRAM_THREAD_ANNOTATION(assert_shared_capability(x))
#define RETURN_CAPABILITY(x) ENGRAM_THREAD_ANNOTATION(lock_returned(x))
#define NO_THREAD_SAFETY_ANALYSIS ENGRAM_THREAD_ANNOTATION(no_thread_safety_analysis)

namespace engram {

// std::mutex as a capability. Also BasicLockable, so std::condition_variable_any can wait on it.
// Tries first, so only a contended acquisition reads the clock (lock_stats.hpp).
class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  explicit Mutex(LockClass c) noexcept : class_(c) {}
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;
  void lock() ACQUIRE() {
    if (mu_.try_lock()) return;
    const auto t = std::chrono::steady_clock::now();
    mu_.lock();
    note_lock_wait(class_, t);
  }
  void unlock() RELEASE() { mu_.unlock(); }
  bool try_lock() TRY_ACQUIRE(true) { return mu_.try_lock(); }

 private:
  std::mutex mu_;
  LockClass class_ = LockClass::Other;
};

// std::shared_mutex as a capability (exclusive and shared). Also SharedLockable, for the
// std::shared_lock the analysis cannot follow (see the header comment).
class CAPABILITY("mutex") SharedMutex {
 public:
  SharedMutex() = default;
  explicit SharedMutex(LockClass c) noexcept : class_(c) {}
  SharedMutex(const SharedMutex&) = delete;
  SharedMutex& operator=(const SharedMutex&) = delete;
  void lock() ACQUIRE() {
    if (mu_.try_lock()) return;
    const auto t = std::chrono::steady_clock::now();
    mu_.lock();
    note_lock_wait(class_, t);
  }
  void unlock() RELEASE() { mu_.unlock(); }
  bool try_lock() TRY_ACQUIRE(true) { return mu_.try_lock(); }
  void lock_shared() ACQUIRE_SHARED() {
    if (mu_.try_lock_shared()) return;
    const auto t = std::chrono::steady_clock::now();
    mu_.lock_shared();
    note_lock_wait(class_, t);
  }
  void unlock_shared() RELEASE_SHARED() { mu_.unlock_shared(); }
  bool try_lock_shared() TRY_ACQUIRE_SHARED(true) { return mu_.try_lock_shared(); }

 private:
  std::shared_mutex mu_;
  LockClass class_ = LockClass::Other;
};

// Holds a Mutex for its scope; unlock() releases it early.
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) ACQUIRE(mu) : mu_(&mu) { mu.lock(); }
  ~MutexLock() RELEASE() {
    if (mu_ != nullptr) mu_->unlock();
  }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;
  void unlock() RELEASE() {
    mu_->unlock();
    mu_ = nullptr;
  }

 private:
  Mutex* mu_;
};

// Holds a SharedMutex exclusively for its scope.
class SCOPED_CAPABILITY WriterLock {
 public:
  explicit WriterLock(SharedMutex& mu) ACQUIRE(mu) : mu_(mu) { mu.lock(); }
  ~WriterLock() RELEASE() { mu_.unlock(); }
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;

 private:
  SharedMutex& mu_;
};

// Holds a SharedMutex shared for its scope.
class SCOPED_CAPABILITY ReaderLock {
 public:
  explicit ReaderLock(SharedMutex& mu) ACQUIRE_SHARED(mu) : mu_(mu) { mu.lock_shared(); }
  ~ReaderLock() RELEASE() { mu_.unlock_shared(); }
  ReaderLock(const ReaderLock&) = delete;
  ReaderLock& operator=(const ReaderLock&) = delete;

 private:
  SharedMutex& mu_;
};

}  // namespace engram
