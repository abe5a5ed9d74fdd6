// Worker classes shared by the behaviour tests.
#pragma once

#include <concurry/concurry.hpp>

#include <chrono>
#include <latch>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace concurry_test {

/// Counts its calls and remembers the sequence numbers it was given.
class counter : public concurry::worker<counter> {
public:
  counter() = default;

  /// Returns {worker index, calls this worker has seen so far}.
  std::pair<std::size_t, int> count(int sequence) {
    seen_.push_back(sequence);
    return {worker_index(), static_cast<int>(seen_.size())};
  }
  std::vector<int> seen() const { return seen_; }
  std::size_t index() const { return worker_index(); }

private:
  std::vector<int> seen_;
};
CONCURRY_WORKER(counter, (), count, seen, index)

/// Sleeps, throws or answers on request.
class sleeper : public concurry::worker<sleeper> {
public:
  std::size_t sleep_ms(int ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds{ms});
    return worker_index();
  }
  int checked_double(int value) {
    if (value < 0)
      throw std::invalid_argument{"negative value not allowed: " + std::to_string(value)};
    return value * 2;
  }
  void nothing() {}
  std::size_t index() const { return worker_index(); }
};
CONCURRY_WORKER(sleeper, (), sleep_ms, checked_double, nothing, index)

/// Blocks on latches the test holds: lets a test know a call is running and decide when it ends.
/// Raw pointers cannot cross a process boundary, hence the local-only registration.
class gate : public concurry::worker<gate> {
public:
  int hold(std::latch* started, std::latch* release) {
    started->count_down();
    release->wait();
    return static_cast<int>(worker_index());
  }
};
CONCURRY_LOCAL_WORKER(gate, (), hold)

} // namespace concurry_test
