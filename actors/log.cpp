#include "actors/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <functional>
#include <map>
#include <mutex>
#include <string>

namespace concurry::actors {

namespace {

struct loggers {
  std::mutex mutex;
  spdlog::level::level_enum level = spdlog::level::warn;
  std::map<std::string, std::shared_ptr<spdlog::logger>, std::less<>> by_part;
};

// NOTE: never destroyed, and the loggers stay out of spdlog's registry. A pool in a global
// variable ends after every static made later than it, spdlog's registry among them, and its
// hosts still log while they end.
loggers& all() {
  static auto* const instance = new loggers;
  return *instance;
}

} // namespace

std::shared_ptr<spdlog::logger> logger(std::string_view part) {
  auto& l = all();
  std::lock_guard guard{l.mutex};
  if (auto it = l.by_part.find(part); it != l.by_part.end())
    return it->second;
  auto created = std::make_shared<spdlog::logger>(
      std::string{part}, std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  created->set_level(l.level);
  created->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v");
  l.by_part.emplace(std::string{part}, created);
  return created;
}

bool set_log_level(std::string_view level) {
  auto parsed = spdlog::level::from_str(std::string{level});
  // from_str maps unknown names to "off"; accept "off" only when it was asked for.
  if (parsed == spdlog::level::off && level != "off")
    return false;
  auto& l = all();
  std::lock_guard guard{l.mutex};
  l.level = parsed;
  for (auto& [part, logger] : l.by_part)
    logger->set_level(parsed);
  return true;
}

} // namespace concurry::actors
