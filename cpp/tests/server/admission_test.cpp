// WorkAdmission (admission.hpp): per-key budgets, FIFO queues, refusals, independence of keys.
#include "admission.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace engram::server {
namespace {

TEST(WorkAdmission, RunsWithinTheBudgetQueuesThenRefuses) {
  WorkAdmission w(2, 1);
  std::vector<std::string> started;
  EXPECT_EQ(w.admit("a", 1, [] {}), WorkAdmission::Decision::Run);
  EXPECT_EQ(w.admit("a", 1, [] {}), WorkAdmission::Decision::Run);
  EXPECT_EQ(w.admit("a", 1, [&] { started.push_back("q"); }), WorkAdmission::Decision::Queued);
  EXPECT_EQ(w.admit("a", 1, [] {}), WorkAdmission::Decision::Refused);
  EXPECT_EQ(w.running("a"), 2);
  EXPECT_EQ(w.waiting("a"), 1);
  // another key is not affected by a's saturation
  EXPECT_EQ(w.admit("b", 2, [] {}), WorkAdmission::Decision::Run);
  w.release("a", 1);
  EXPECT_EQ(started, std::vector<std::string>{"q"});
  EXPECT_EQ(w.running("a"), 2);
  EXPECT_EQ(w.waiting("a"), 0);
  w.release("a", 1);
  w.release("a", 1);
  w.release("b", 2);
  EXPECT_EQ(w.running("a"), 0);
  EXPECT_EQ(w.running("b"), 0);
}

TEST(WorkAdmission, ExpensiveCallsQueueBehindEachOtherInOrder) {
  WorkAdmission w(2, 8);
  std::vector<int> order;
  EXPECT_EQ(w.admit("a", 5, [] {}), WorkAdmission::Decision::Run);  // charged as the whole budget
  EXPECT_EQ(w.charge(5), 2);
  EXPECT_EQ(w.admit("a", 2, [&] { order.push_back(1); }), WorkAdmission::Decision::Queued);
  // a cheap call does not overtake the expensive waiter (no starvation)
  EXPECT_EQ(w.admit("a", 1, [&] { order.push_back(2); }), WorkAdmission::Decision::Queued);
  EXPECT_EQ(w.admit("a", 1, [&] { order.push_back(3); }), WorkAdmission::Decision::Queued);
  w.release("a", 5);
  EXPECT_EQ(order, std::vector<int>{1});
  w.release("a", 2);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));  // both fit together
  w.release("a", 1);
  w.release("a", 1);
  EXPECT_EQ(w.running("a"), 0);
}

TEST(WorkAdmission, ZeroQueueRefusesAtOnce) {
  WorkAdmission w(1, 0);
  EXPECT_EQ(w.admit("a", 1, [] {}), WorkAdmission::Decision::Run);
  EXPECT_EQ(w.admit("a", 1, [] {}), WorkAdmission::Decision::Refused);
  w.release("a", 1);
  EXPECT_EQ(w.admit("a", 1, [] {}), WorkAdmission::Decision::Run);
  w.release("a", 1);
}

}  // namespace
}  // namespace engram::server
