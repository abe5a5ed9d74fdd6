#include <concurry/runtime.hpp>

#include "actors/log.hpp"
#include "runtime/internal/cluster_client.hpp"
#include "runtime/internal/host.hpp"
#include "runtime/internal/process_host.hpp"

#include <concurry/error.hpp>
#include <concurry/version.hpp>

#include <cstdlib>
#include <mutex>
#include <vector>

namespace concurry {

namespace {

// The host and pools of whichever runtime is current: the object at the top of main, or the
// default one.
struct host_registry {
  std::mutex mutex;
  std::shared_ptr<actors::actor_host> host;
  bool owned_by_runtime_object = false;
  std::vector<std::weak_ptr<detail::pool_core>> pools;

  // Stops every pool still alive with a zero timeout, then lets go of the host.
  void shut_down() {
    std::vector<std::weak_ptr<detail::pool_core>> live;
    std::shared_ptr<actors::actor_host> released;
    {
      std::lock_guard guard{mutex};
      live.swap(pools);
      released = std::move(host);
      owned_by_runtime_object = false;
    }
    for (auto& weak : live)
      if (auto pool = weak.lock())
        detail::stop(*pool, std::chrono::nanoseconds{0});
  }

  ~host_registry() { shut_down(); }
};

host_registry& registry() {
  static host_registry instance;
  return instance;
}

void apply_log_level(const std::string& configured) {
  const char* env = std::getenv("CONCURRY_LOG_LEVEL");
  std::string level = env && *env ? env : configured;
  if (!actors::set_log_level(level))
    actors::logger("pool")->warn("unknown log level ignored level={}", level);
}

} // namespace

struct runtime::impl {
  std::size_t threads = 0;
};

runtime::runtime(int argc, char** argv, runtime_options options) : impl_{std::make_unique<impl>()} {
  // In a worker host process (process mode) this runs the host and ends the process.
  runtime_internal::run_worker_host_if_requested(options.log_level);
  runtime_internal::remember_program_arguments(argc, argv);
  // In the node of a private cluster (cluster mode) this runs the node and ends the process.
  runtime_internal::run_private_node_if_requested(options.log_level);
  apply_log_level(options.log_level);
  auto& reg = registry();
  std::lock_guard guard{reg.mutex};
  if (reg.owned_by_runtime_object)
    throw error{"a concurry::runtime already exists in this process; create only one"};
  if (reg.host)
    throw error{"pools were created before the concurry::runtime; create the runtime first, at "
                "the top of main"};
  reg.host = actors::actor_host::start(options.scheduler_threads);
  reg.owned_by_runtime_object = true;
  impl_->threads = reg.host->scheduler_threads();
}

runtime::~runtime() {
  registry().shut_down();
  runtime_internal::stop_private_cluster();
}

std::size_t runtime::scheduler_threads() const noexcept {
  return impl_->threads;
}

const char* version() noexcept {
  return CONCURRY_VERSION_STRING;
}

namespace runtime_internal {

std::shared_ptr<actors::actor_host> current_host() {
  // A worker host whose program has no runtime object becomes the host here, at its first use
  // of concurry, rather than run on as the application and start hosts of its own.
  run_worker_host_if_requested("warn");
  run_private_node_if_requested("warn");
  auto& reg = registry();
  std::lock_guard guard{reg.mutex};
  if (!reg.host) {
    apply_log_level("warn");
    reg.host = actors::actor_host::start(0);
  }
  return reg.host;
}

void track_pool(const std::shared_ptr<detail::pool_core>& pool) {
  auto& reg = registry();
  std::lock_guard guard{reg.mutex};
  std::erase_if(reg.pools, [](const auto& w) { return w.expired(); });
  reg.pools.push_back(pool);
}

} // namespace runtime_internal

} // namespace concurry
