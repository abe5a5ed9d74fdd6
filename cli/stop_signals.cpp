#include "stop_signals.hpp"

#include <concurry/error.hpp>

#include <pthread.h>
#include <signal.h>

#include <cstring>
#include <string>
#include <utility>

namespace concurry::cli {

namespace {

sigset_t stop_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

} // namespace

stop_signals::stop_signals(callback on_signal) : on_signal_{std::move(on_signal)} {
  auto set = stop_set();
  if (int rc = pthread_sigmask(SIG_BLOCK, &set, nullptr); rc != 0)
    throw error{std::string{"cannot block SIGINT and SIGTERM: "} + std::strerror(rc)};
  thread_ = std::thread{[this] { wait_for_signals(); }};
}

stop_signals::~stop_signals() {
  // A SIGTERM sent to the waiting thread itself wakes its sigwait; ending_ says it is not real.
  ending_.store(true);
  pthread_kill(thread_.native_handle(), SIGTERM);
  thread_.join();
}

void stop_signals::wait_for_signals() {
  auto set = stop_set();
  // One round per signal, until the destructor's.
  while (true) {
    int signal = 0;
    if (sigwait(&set, &signal) != 0)
      continue;
    if (ending_.load())
      return;
    int expected = 0;
    first_.compare_exchange_strong(expected, signal);
    on_signal_(signal, ++count_);
  }
}

} // namespace concurry::cli
