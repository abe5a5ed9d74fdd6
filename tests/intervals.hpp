// Intervals stamped with steady_clock, and how many of them overlap. steady_clock is one clock
// for every process of the machine (CLOCK_MONOTONIC), so intervals stamped by workers in
// different processes compare: tests count what was held at once without sharing memory with
// the workers.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <thread>
#include <utility>
#include <vector>

namespace concurry_test {

/// Now on steady_clock, in nanoseconds since its epoch.
inline std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// From and to, in now_ns() units.
using interval = std::pair<std::int64_t, std::int64_t>;

/// The most intervals that overlap at one instant.
inline int max_overlap(const std::vector<interval>& intervals) {
  std::vector<std::pair<std::int64_t, int>> events;
  for (auto& [from, to] : intervals) {
    events.emplace_back(from, +1);
    events.emplace_back(to, -1);
  }
  // Ends sort before starts at the same instant: touching intervals do not overlap.
  std::sort(events.begin(), events.end());
  int now = 0;
  int most = 0;
  for (auto& [at, step] : events)
    most = std::max(most, now += step);
  return most;
}

/// Polls `done()` every 20 ms for at most 5 s; true once it holds. For what another process
/// makes true (a child's exit, a replacement) that no future reports.
template <class F>
bool eventually(F done) {
  for (int i = 0; i < 250; ++i) {
    if (done())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
  return done();
}

} // namespace concurry_test
