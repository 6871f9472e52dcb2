// parallel_for over [0, n): TBB in normal builds. Under ThreadSanitizer (ENGRAM_PARALLEL_STD,
// set by CMake for ENGRAM_SANITIZE=thread) it runs on plain std::threads instead, because the
// Debian libtbb is not instrumented: TSan cannot see TBB's internal synchronisation and reports
// races inside TBB's own task splitting. With std::thread (whose start and join TSan models),
// every report left is about the body, i.e. about Engram's code. Safe from any thread; `f` must
// be safe to call concurrently for distinct indices.
#pragma once

#include <algorithm>
#include <cstddef>

#ifdef ENGRAM_PARALLEL_STD
#include <thread>
#include <vector>
#else
#include <tbb/parallel_for.h>
#endif

namespace engram {

template <class F>
void parallel_for(std::size_t n, F&& f) {
#ifdef ENGRAM_PARALLEL_STD
  const std::size_t workers = std::min<std::size_t>(n, std::max(2u, std::thread::hardware_concurrency()));
  std::vector<std::thread> pool;
  for (std::size_t w = 0; w < workers; ++w) {
    pool.emplace_back([&, w] {
      for (std::size_t i = w; i < n; i += workers) f(i);
    });
  }
  for (std::thread& t : pool) t.join();
#else
  tbb::parallel_for(std::size_t{0}, n, f);
#endif
}

}  // namespace engram
