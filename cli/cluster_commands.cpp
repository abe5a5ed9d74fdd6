#include "cluster_commands.hpp"

#include "cluster_options.hpp"
#include "status_render.hpp"

#include <concurry/concurry.hpp>

#include "runtime/internal/cluster_admin.hpp"

#include <exception>
#include <iostream>
#include <optional>
#include <string>

namespace concurry::cli {

namespace {

std::string head_text(const admin_config& config) {
  bool is_ipv6 = config.head_host.find(':') != std::string::npos;
  auto host = is_ipv6 ? "[" + config.head_host + "]" : config.head_host;
  return host + ":" + std::to_string(config.head_port);
}

/// Runs `command`, which talks to the head, and turns its errors into exit statuses.
template <class Command>
int talk_to_head(const admin_config& config, Command&& command) {
  try {
    command(runtime_internal::cluster_address{config.head_host, config.head_port});
    return exit_ok;
  } catch (const auth_error& e) {
    std::cerr << "concurry: error: the head at " << head_text(config)
              << " refused the token: " << e.what() << '\n';
    return exit_refused;
  } catch (const cluster_unavailable& e) {
    std::cerr << "concurry: error: cannot reach the head at " << head_text(config) << ": "
              << e.what() << '\n';
    return exit_unreachable;
  } catch (const config_error& e) {
    std::cerr << "concurry: error: " << e.what() << '\n';
    return exit_usage;
  } catch (const std::exception& e) {
    std::cerr << "concurry: error: " << e.what() << '\n';
    return exit_failure;
  }
}

/// Parses the options of `command`; prints the usage or version when asked. Returns the exit
/// status when there is nothing more to do.
std::optional<int> parse(admin_command command, const command_args& args, admin_config& config) {
  try {
    config = parse_admin_options(command, args, process_environment());
  } catch (const config_error& e) {
    std::cerr << "concurry: error: " << e.what() << "\n\n" << admin_usage(command);
    return exit_usage;
  }
  if (config.what == request::help) {
    std::cout << admin_usage(command);
    return exit_ok;
  }
  if (config.what == request::version) {
    std::cout << "concurry " << concurry::version() << '\n';
    return exit_ok;
  }
  return std::nullopt;
}

} // namespace

int status_command(const command_args& args) {
  admin_config config;
  if (auto done = parse(admin_command::status, args, config))
    return *done;
  return talk_to_head(config, [&](const runtime_internal::cluster_address& head) {
    auto status = runtime_internal::query_cluster_status(head, config.token, admin_timeout);
    std::cout << render_status(status, config.json) << std::flush;
  });
}

int stop_command(const command_args& args) {
  admin_config config;
  if (auto done = parse(admin_command::stop, args, config))
    return *done;
  return talk_to_head(config, [&](const runtime_internal::cluster_address& head) {
    runtime_internal::stop_cluster(head, config.token, admin_timeout);
    std::cout << "the cluster at " << head_text(config) << " is stopping\n";
  });
}

} // namespace concurry::cli
