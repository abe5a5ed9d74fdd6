// concurry's loggers: one named spdlog logger per part (pool, cli, head, node, limit, net),
// writing to stderr. The level comes from the runtime options or CONCURRY_LOG_LEVEL.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string_view>

namespace concurry::actors {

/// The logger of one part of concurry, created on first use. Thread-safe.
std::shared_ptr<spdlog::logger> logger(std::string_view part);

/// Sets the level of every concurry logger, present and future ("debug", "info", ...). An
/// unknown name leaves the level unchanged and returns false.
bool set_log_level(std::string_view level);

} // namespace concurry::actors
