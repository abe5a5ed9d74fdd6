// Mode tags for behaviour tests written once and run in every mode that supports them:
//
//     TEST_CASE_TEMPLATE("...", M, CONCURRY_POOL_MODES) { auto pool =
//     w::options().mode(M::value)... }
//
// A case runs in process mode unless it cannot hold there: its worker is local-only (it takes
// or returns a type that cannot cross a process boundary), or it observes the client's memory
// from inside the worker. Those cases use the LOCAL lists. Cluster mode runs them on the private
// cluster each test process starts (tests/main.cpp gives its node room for every pool).
#pragma once

#include <concurry/mode.hpp>

namespace concurry_test {

struct sync_mode {
  static constexpr concurry::mode value = concurry::mode::sync;
};
struct asyncio_mode {
  static constexpr concurry::mode value = concurry::mode::asyncio;
};
struct thread_mode {
  static constexpr concurry::mode value = concurry::mode::thread;
};
struct process_mode {
  static constexpr concurry::mode value = concurry::mode::process;
};
struct cluster_mode {
  static constexpr concurry::mode value = concurry::mode::cluster;
};

} // namespace concurry_test

/// Modes that run pools of several workers.
#define CONCURRY_POOL_MODES                                                                        \
  concurry_test::thread_mode, concurry_test::process_mode, concurry_test::cluster_mode
/// Modes that run a single worker (every mode).
#define CONCURRY_ALL_MODES                                                                         \
  concurry_test::sync_mode, concurry_test::asyncio_mode, concurry_test::thread_mode,               \
      concurry_test::process_mode, concurry_test::cluster_mode
/// Modes whose workers share the client's memory: for local-only workers.
#define CONCURRY_LOCAL_MODES                                                                       \
  concurry_test::sync_mode, concurry_test::asyncio_mode, concurry_test::thread_mode
