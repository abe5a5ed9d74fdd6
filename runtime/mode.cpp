#include <concurry/config.hpp>
#include <concurry/error.hpp>
#include <concurry/mode.hpp>
#include <concurry/retry.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <string>
#include <utility>

namespace concurry {

namespace {

std::string lower(std::string_view s) {
  std::string out{s};
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
    return static_cast<char>(std::tolower(c));
  });
  return out;
}

constexpr std::array<std::pair<std::string_view, mode>, 12> mode_names{{
    {"sync", mode::sync},
    {"synchronous", mode::sync},
    {"asyncio", mode::asyncio},
    {"async", mode::asyncio},
    {"thread", mode::thread},
    {"threads", mode::thread},
    {"process", mode::process},
    {"processes", mode::process},
    {"proc", mode::process},
    {"procs", mode::process},
    {"cluster", mode::cluster},
    {"ray", mode::cluster},
}};

constexpr std::array<std::pair<std::string_view, load_balancing>, 8> balancer_names{{
    {"round_robin", load_balancing::round_robin},
    {"rr", load_balancing::round_robin},
    {"active", load_balancing::least_active},
    {"least_active", load_balancing::least_active},
    {"total", load_balancing::least_total},
    {"least_total", load_balancing::least_total},
    {"random", load_balancing::random},
    {"rand", load_balancing::random},
}};

constexpr std::array<std::pair<std::string_view, retry_algorithm>, 5> retry_algorithm_names{{
    {"linear", retry_algorithm::linear},
    {"exponential", retry_algorithm::exponential},
    {"exp", retry_algorithm::exponential},
    {"fibonacci", retry_algorithm::fibonacci},
    {"fib", retry_algorithm::fibonacci},
}};

template <class Table>
auto parse(const Table& table, std::string_view name, std::string_view what) {
  auto key = lower(name);
  for (auto& [n, value] : table)
    if (n == key)
      return value;
  std::string valid;
  for (auto& [n, value] : table)
    valid += (valid.empty() ? "" : ", ") + std::string{n};
  throw config_error{"unknown " + std::string{what} + " '" + std::string{name} +
                     "'; valid names are: " + valid};
}

} // namespace

mode parse_mode(std::string_view name) {
  return parse(mode_names, name, "mode");
}

load_balancing parse_load_balancing(std::string_view name) {
  return parse(balancer_names, name, "load balancer");
}

retry_algorithm parse_retry_algorithm(std::string_view name) {
  return parse(retry_algorithm_names, name, "retry algorithm");
}

std::string_view to_string(mode m) noexcept {
  switch (m) {
  case mode::sync:
    return "sync";
  case mode::asyncio:
    return "asyncio";
  case mode::thread:
    return "thread";
  case mode::process:
    return "process";
  case mode::cluster:
    return "cluster";
  }
  return "unknown";
}

std::string_view to_string(load_balancing lb) noexcept {
  switch (lb) {
  case load_balancing::round_robin:
    return "RoundRobin";
  case load_balancing::least_active:
    return "LeastActiveLoad";
  case load_balancing::least_total:
    return "LeastTotalLoad";
  case load_balancing::random:
    return "Random";
  }
  return "unknown";
}

std::size_t default_max_workers(mode m) noexcept {
  return config()[m].max_workers;
}

} // namespace concurry
