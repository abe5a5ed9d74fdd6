#include "actors/actor_host.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/io/middleman.hpp>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <thread>

namespace concurry::actors {

struct actor_host::impl {
  explicit impl(std::size_t threads) : threads{threads}, system{configure(cfg, threads)} {}

  static caf::actor_system_config& configure(caf::actor_system_config& cfg, std::size_t threads) {
    // NOTE: the work-stealing default polls while idle and burns CPU after bursts; our actors
    // are control-plane only (worker code has threads of its own), so sharing suffices.
    cfg.set("scheduler.policy", caf::atom("sharing"));
    cfg.set("scheduler.max-threads", threads);
    cfg.set("logger.console", caf::atom("none"));
    // The middleman carries process mode's messages between a client and its worker hosts
    // (TCP on 127.0.0.1). NOTE: no worker threads of its own: its multiplexer thread hands
    // messages straight to the scheduler; with the sharing policy this took CAF's remote round
    // trip from 260 to 92 µs on the project's machines (shared/notes/caf-0.17.md).
    cfg.set("middleman.workers", std::size_t{0});
    cfg.load<caf::io::middleman>();
    return cfg;
  }

  std::size_t threads;
  caf::actor_system_config cfg;
  caf::actor_system system;
};

actor_host::actor_host(std::size_t scheduler_threads) {
  if (scheduler_threads == 0)
    scheduler_threads = std::max(2u, std::thread::hardware_concurrency());
  impl_ = std::make_unique<impl>(scheduler_threads);
}

actor_host::~actor_host() = default;

namespace {

std::atomic<bool> exiting{false};

// A host let go of during exit is kept here: left to the end of the process on purpose, and
// still reachable, so leak checkers do not report it.
std::atomic<actor_host*> kept_at_exit{nullptr};

void mark_exiting() {
  exiting.store(true);
}

} // namespace

std::shared_ptr<actor_host> actor_host::start(std::size_t scheduler_threads) {
  // Registered after every static object that exists now, so it runs before their destructors
  // at exit; a handle or pool kept in such an object then sees the flag.
  static const bool registered = std::atexit(mark_exiting) == 0;
  (void)registered;
  return std::shared_ptr<actor_host>{new actor_host{scheduler_threads}, [](actor_host* h) {
                                       if (!process_exiting())
                                         delete h;
                                       else
                                         kept_at_exit.store(h);
                                     }};
}

bool actor_host::process_exiting() noexcept {
  return exiting.load();
}

std::size_t actor_host::scheduler_threads() const noexcept {
  return impl_->threads;
}

caf::actor_system& actor_host::system() noexcept {
  return impl_->system;
}

} // namespace concurry::actors
