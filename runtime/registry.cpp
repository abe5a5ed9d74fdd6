#include <concurry/error.hpp>
#include <concurry/registry.hpp>

#include "actors/log.hpp"

#include <deque>
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

struct task_entry {
  task_info info;
  detail::task_address address;
};

struct task_registry {
  std::mutex mutex;
  std::deque<task_entry> entries; // a deque: find_registered_task hands out pointers
};

task_registry& tasks() {
  static task_registry instance;
  return instance;
}

} // namespace

const task_info* find_registered_task(std::string_view name) {
  auto& reg = tasks();
  std::lock_guard guard{reg.mutex};
  for (auto& e : reg.entries)
    if (e.info.name == name)
      return &e.info;
  return nullptr;
}

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

bool add_registered_task(task_info info, task_address fn) {
  auto& reg = tasks();
  std::lock_guard guard{reg.mutex};
  bool taken = false;
  for (auto& e : reg.entries) {
    if (e.info.name != info.name)
      continue;
    if (e.address == fn)
      return false;
    taken = true;
    e.info.ambiguous = true;
  }
  if (taken) {
    // NOTE: reported once, at start-up; submitting either function in process mode fails with
    // a config_error that says why.
    actors::logger("pool")->error("two functions are registered as task {}; neither can run in "
                                  "another process",
                                  info.name);
    info.ambiguous = true;
  }
  reg.entries.push_back({std::move(info), fn});
  return true;
}

const task_info* find_registered_task(task_address fn) noexcept {
  auto& reg = tasks();
  std::lock_guard guard{reg.mutex};
  for (auto& e : reg.entries)
    if (e.address == fn)
      return &e.info;
  return nullptr;
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
