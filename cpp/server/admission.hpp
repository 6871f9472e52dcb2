// Per-tenant admission of worker-pool work (issue 13, defect 9): every route that runs on the
// worker pool declares a cost (Route::cost; 1 by default, more for consolidation, big batches,
// wide spreads), and each tenant -- the API key's id, "(auth disabled)" without keys -- may have
// at most `budget` cost units admitted at once. A request that does not fit waits in its
// tenant's FIFO queue (at most `queue` requests; it is parked, holding no worker thread and no
// body bytes yet), and beyond that is refused with 429 + Retry-After. So one tenant's expensive
// calls queue behind each other and can occupy at most `budget` of the pool's threads, while
// other tenants' calls (inline searches above all, which never touch the pool) are not affected.
// A cost above the budget counts as the whole budget (such a call runs alone).
//
// Units are taken in the request pipeline before the body is read (a refused request's body is
// never read) and returned when the response is sent or the request is abandoned.
//
// Locking: mu_ guards the per-tenant accounts; it is a leaf. Grant callbacks run after mu_ is
// released (they post to a session's executor).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <unordered_map>

#include "engram/thread_annotations.hpp"

namespace engram::server {

class WorkAdmission {
 public:
  WorkAdmission(std::int64_t budget, std::int64_t queue) noexcept : budget_(budget), queue_(queue) {}

  enum class Decision { Run, Queued, Refused };
  // Run: the units are taken now. Queued: `granted` is called once they are taken (from the
  // thread that releases them). Refused: the tenant's queue is full; nothing is taken.
  Decision admit(const std::string& tenant, std::int64_t cost, std::function<void()> granted) EXCLUDES(mu_);
  // Returns units taken by admit (or granted later); starts the waiters that now fit, in order.
  void release(const std::string& tenant, std::int64_t cost) EXCLUDES(mu_);

  std::int64_t budget() const noexcept { return budget_; }
  std::int64_t queue_limit() const noexcept { return queue_; }
  std::int64_t charge(std::int64_t cost) const noexcept { return cost < budget_ ? cost : budget_; }
  std::int64_t running(const std::string& tenant) const EXCLUDES(mu_);
  std::int64_t waiting(const std::string& tenant) const EXCLUDES(mu_);

 private:
  struct Waiter {
    std::int64_t units;
    std::function<void()> granted;
  };
  struct Account {
    std::int64_t used = 0;
    std::deque<Waiter> waiting;
  };
  const std::int64_t budget_;
  const std::int64_t queue_;
  mutable Mutex mu_;
  std::unordered_map<std::string, Account> accounts_ GUARDED_BY(mu_);
};

}  // namespace engram::server
