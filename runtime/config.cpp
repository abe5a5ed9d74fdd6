#include <concurry/config.hpp>
#include <concurry/error.hpp>

#include <cmath>
#include <mutex>
#include <string>

namespace concurry {

namespace {

std::mutex& config_mutex() {
  static std::mutex m;
  return m;
}

configuration& current() {
  static configuration c = library_defaults();
  return c;
}

void check(const mode_defaults& d, std::string_view mode_name) {
  auto field = [&](const char* name) { return std::string{mode_name} + "." + name; };
  if (mode_name == "sync" || mode_name == "asyncio") {
    if (d.max_workers != 1)
      throw config_error{field("max_workers") + " must be 1: " + std::string{mode_name} +
                         " mode runs one worker"};
  } else if (mode_name != "cluster" && d.max_workers == 0) {
    throw config_error{field("max_workers") + " must be at least 1"};
  }
  if (to_string(d.load_balancing) == "unknown")
    throw config_error{field("load_balancing") + " is not a load balancer"};
  if (to_string(d.on_demand_load_balancing) == "unknown")
    throw config_error{field("on_demand_load_balancing") + " is not a load balancer"};
  if (to_string(d.retry.algorithm) == "unknown")
    throw config_error{field("retry.algorithm") + " is not a retry algorithm"};
  if (d.stop_timeout.count() < 0)
    throw config_error{field("stop_timeout") + " must not be negative"};
  if (d.retry.num_retries > 1'000'000)
    throw config_error{field("retry.num_retries") + " must be at most 1000000, not " +
                       std::to_string(d.retry.num_retries)};
  if (d.retry.wait.count() < 0)
    throw config_error{field("retry.wait") + " must not be negative"};
  if (!(d.retry.jitter >= 0.0 && d.retry.jitter <= 1.0))
    throw config_error{field("retry.jitter") + " must be between 0 and 1, not " +
                       std::to_string(d.retry.jitter)};
  if (d.max_message_size < smallest_max_message_size ||
      d.max_message_size > largest_max_message_size)
    throw config_error{field("max_message_size") + " must be between " +
                       std::to_string(smallest_max_message_size) + " and " +
                       std::to_string(largest_max_message_size) + " bytes, not " +
                       std::to_string(d.max_message_size)};
  if (d.heartbeat_timeout.count() < 0 ||
      (d.heartbeat_timeout.count() > 0 && d.heartbeat_timeout < std::chrono::milliseconds{100}))
    throw config_error{field("heartbeat_timeout") + " must be zero (never) or at least 100 ms"};
}

void check(const configuration& c) {
  for (auto m : {mode::sync, mode::asyncio, mode::thread, mode::process, mode::cluster})
    check(c[m], to_string(m));
  if (to_string(c.rate_limit_algorithm) == "unknown")
    throw config_error{"rate_limit_algorithm is not a rate algorithm"};
}

} // namespace

mode_defaults& configuration::operator[](concurry::mode m) noexcept {
  switch (m) {
  case mode::sync:
    return sync;
  case mode::asyncio:
    return asyncio;
  case mode::thread:
    return thread;
  case mode::process:
    return process;
  case mode::cluster:
    return cluster;
  }
  return thread;
}

const mode_defaults& configuration::operator[](concurry::mode m) const noexcept {
  return const_cast<configuration&>(*this)[m];
}

void configuration::for_each_mode(const std::function<void(mode_defaults&)>& change) {
  for (auto m : {mode::sync, mode::asyncio, mode::thread, mode::process, mode::cluster})
    change((*this)[m]);
}

configuration library_defaults() {
  configuration c;
  c.sync.max_workers = 1;
  c.asyncio.max_workers = 1;
  c.thread.max_workers = 24;
  c.process.max_workers = 4;
  c.process.max_queued_tasks = 100;
  c.cluster.max_workers = 0;
  c.cluster.max_queued_tasks = 3;
  return c;
}

configuration config() {
  std::lock_guard lock{config_mutex()};
  return current();
}

void set_config(const configuration& c) {
  check(c);
  std::lock_guard lock{config_mutex()};
  current() = c;
}

void reset_config() {
  set_config(library_defaults());
}

config_override::config_override(const std::function<void(configuration&)>& change)
    : saved_{config()} {
  auto next = saved_;
  change(next);
  set_config(next);
}

config_override::~config_override() {
  std::lock_guard lock{config_mutex()};
  current() = saved_;
}

} // namespace concurry
