// `concurry status` and `concurry stop`: what the tool asks a cluster's head.
#pragma once

#include "command.hpp"

#include <chrono>

namespace concurry::cli {

/// How long the admin commands wait for the head to answer.
inline constexpr std::chrono::milliseconds admin_timeout{10000};

/// The entry point of `concurry status [--address HOST:PORT] [--token T] [--json]`: prints the
/// cluster's status (cli/status_render.hpp) to stdout. Exits with exit_refused for a wrong token
/// and exit_unreachable when the head cannot be reached.
int status_command(const command_args& args);

/// The entry point of `concurry stop [--address HOST:PORT] [--token T]`: asks the head to stop
/// every node and itself, and returns once the head said it is stopping. Exits as
/// status_command.
int stop_command(const command_args& args);

} // namespace concurry::cli
