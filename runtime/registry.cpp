#include <concurry/error.hpp>
#include <concurry/registry.hpp>

#include "actors/log.hpp"

#include <mutex>

namespace concurry {

namespace {

struct entry {
  worker_type_info info;
  std::type_index type;
};

struct worker_registry {
  std::mutex mutex;
  std::vector<entry> entries;
};

// A function-local static: registrations run during static initialisation, in any order.
worker_registry& registry() {
  static worker_registry instance;
  return instance;
}

} // namespace

std::vector<worker_type_info> registered_workers() {
  auto& reg = registry();
  std::lock_guard guard{reg.mutex};
  std::vector<worker_type_info> out;
  out.reserve(reg.entries.size());
  for (auto& e : reg.entries)
    out.push_back(e.info);
  return out;
}

const worker_type_info* find_registered_worker(std::string_view name) {
  auto& reg = registry();
  std::lock_guard guard{reg.mutex};
  for (auto& e : reg.entries)
    if (e.info.name == name)
      return &e.info;
  return nullptr;
}

namespace detail {

bool add_registered_worker(worker_type_info info, std::type_index type) {
  auto& reg = registry();
  std::lock_guard guard{reg.mutex};
  for (auto& e : reg.entries) {
    if (e.info.name != info.name)
      continue;
    if (e.type != type)
      // NOTE: two classes of one name in different namespaces cannot both be called by name;
      // the first keeps the name. Reported once, at start-up.
      actors::logger("pool")->error("two worker classes are registered as {}; only the first "
                                    "can be constructed by name",
                                    info.name);
    return false;
  }
  reg.entries.push_back({std::move(info), type});
  return true;
}

worker_context& constructing_worker_context() noexcept {
  thread_local worker_context context;
  return context;
}

[[noreturn]] void throw_no_pool() {
  throw error{"this handle refers to no pool (default-constructed or moved from)"};
}

} // namespace detail
} // namespace concurry
