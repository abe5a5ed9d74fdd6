#include "actors/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <mutex>
#include <string>

namespace concurry::actors {

namespace {

std::mutex mutex;
spdlog::level::level_enum current_level = spdlog::level::warn;

} // namespace

std::shared_ptr<spdlog::logger> logger(std::string_view part) {
  std::string name{part};
  std::lock_guard guard{mutex};
  if (auto existing = spdlog::get(name))
    return existing;
  auto created = spdlog::stderr_color_mt(name);
  created->set_level(current_level);
  created->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v");
  return created;
}

bool set_log_level(std::string_view level) {
  auto parsed = spdlog::level::from_str(std::string{level});
  // from_str maps unknown names to "off"; accept "off" only when it was asked for.
  if (parsed == spdlog::level::off && level != "off")
    return false;
  std::lock_guard guard{mutex};
  current_level = parsed;
  spdlog::apply_all([parsed](const std::shared_ptr<spdlog::logger>& l) { l->set_level(parsed); });
  return true;
}

} // namespace concurry::actors
