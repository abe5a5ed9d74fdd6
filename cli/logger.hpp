// The `cli` logger that every part of the concurry command-line tool writes to.
#pragma once

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <memory>

namespace concurry::cli {

/// The spdlog logger named `cli`, writing to stderr. Uses the one already registered under that
/// name (the `concurry` binary sets its pattern and level), or registers one on first use.
/// Thread-safe.
inline spdlog::logger& logger() {
  static const std::shared_ptr<spdlog::logger> instance = [] {
    auto existing = spdlog::get("cli");
    return existing ? existing : spdlog::stderr_color_mt("cli");
  }();
  return *instance;
}

} // namespace concurry::cli
