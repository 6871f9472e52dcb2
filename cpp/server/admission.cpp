#include "admission.hpp"

#include <utility>
#include <vector>

namespace engram::server {

WorkAdmission::Decision WorkAdmission::admit(const std::string& tenant, std::int64_t cost,
                                             std::function<void()> granted) {
  const std::int64_t units = charge(cost);
  MutexLock lock(mu_);
  Account& a = accounts_[tenant];
  // FIFO: nobody overtakes a waiter, so a cheap call cannot starve an expensive one
  if (a.waiting.empty() && a.used + units <= budget_) {
    a.used += units;
    return Decision::Run;
  }
  if (static_cast<std::int64_t>(a.waiting.size()) >= queue_) return Decision::Refused;
  a.waiting.push_back({units, std::move(granted)});
  return Decision::Queued;
}

void WorkAdmission::release(const std::string& tenant, std::int64_t cost) {
  const std::int64_t units = charge(cost);
  std::vector<std::function<void()>> start;
  {
    MutexLock lock(mu_);
    auto it = accounts_.find(tenant);
    if (it == accounts_.end()) return;
    Account& a = it->second;
    a.used -= units;
    while (!a.waiting.empty() && a.used + a.waiting.front().units <= budget_) {
      a.used += a.waiting.front().units;
      start.push_back(std::move(a.waiting.front().granted));
      a.waiting.pop_front();
    }
    if (a.used == 0 && a.waiting.empty()) accounts_.erase(it);  // bounded by the active tenants
  }
  for (auto& f : start) f();
}

std::int64_t WorkAdmission::running(const std::string& tenant) const {
  MutexLock lock(mu_);
  auto it = accounts_.find(tenant);
  return it == accounts_.end() ? 0 : it->second.used;
}

std::int64_t WorkAdmission::waiting(const std::string& tenant) const {
  MutexLock lock(mu_);
  auto it = accounts_.find(tenant);
  return it == accounts_.end() ? 0 : static_cast<std::int64_t>(it->second.waiting.size());
}

}  // namespace engram::server
