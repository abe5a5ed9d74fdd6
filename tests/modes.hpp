// Mode tags for behaviour tests written once and run in every mode that supports them:
//
//     TEST_CASE_TEMPLATE("...", M, CONCURRY_POOL_MODES) { auto pool =
//     w::options().mode(M::value)... }
//
// Process and cluster modes join these lists when they exist.
#pragma once

#include <concurry/mode.hpp>

namespace concurry_test {

struct sync_mode {
  static constexpr concurry::mode value = concurry::mode::sync;
};
struct thread_mode {
  static constexpr concurry::mode value = concurry::mode::thread;
};
struct process_mode { static constexpr concurry::mode value = concurry::mode::process; };

} // namespace concurry_test

/// Modes that run pools of several workers.
#define CONCURRY_POOL_MODES concurry_test::thread_mode
/// Modes that run a single worker (every mode).
#define CONCURRY_ALL_MODES concurry_test::sync_mode, concurry_test::thread_mode
