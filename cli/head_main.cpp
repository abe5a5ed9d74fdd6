// `concurry-head`: the head of a cluster. Listens for nodes and clients until SIGINT, SIGTERM or
// `concurry stop`, then drains the nodes and exits.
//
//     concurry-head [--address HOST] [--port PORT] [--token TOKEN] [--config FILE] ...

#include "cluster_options.hpp"
#include "command.hpp"
#include "stop_signals.hpp"

#include <concurry/concurry.hpp>

#include "actors/actor_host.hpp"
#include "actors/cluster_head.hpp"
#include "actors/log.hpp"

#include <chrono>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace {

namespace cli = concurry::cli;
namespace actors = concurry::actors;
using namespace std::chrono_literals;

/// How often the main thread looks whether a signal came while it waits for `concurry stop`.
constexpr auto signal_check_interval = 100ms;
/// How long the nodes get to stop their workers and leave.
constexpr auto drain_timeout = 10s;

std::string listen_text(const actors::head_options& options, std::uint16_t port) {
  bool is_ipv6 = options.address.find(':') != std::string::npos;
  auto host = is_ipv6 ? "[" + options.address + "]" : options.address;
  return host + ":" + std::to_string(port);
}

int run(const cli::head_config& config) {
  auto log = actors::logger("head");
  // Before any other thread: the actor system's threads inherit the blocked signals.
  cli::stop_signals signals{[log](int signal, int count) {
    if (count == 1) {
      log->info("stop requested signal={}", signal);
      return;
    }
    log->warn("stopped without draining the nodes signal={}", signal);
    std::_Exit(cli::exit_failure);
  }};

  // The head, listening.
  auto host = actors::actor_host::start(0);
  std::optional<actors::cluster_head> head;
  try {
    head.emplace(host, config.head);
  } catch (const concurry::config_error& e) {
    std::cerr << "concurry-head: error: " << e.what() << '\n';
    return cli::exit_usage;
  } catch (const std::exception& e) {
    log->error("cannot listen address={} port={} error={}",
               config.head.address,
               config.head.port,
               e.what());
    return cli::exit_failure;
  }
  auto address = listen_text(config.head, head->port());
  std::cout << "concurry-head listening on " << address << std::endl;
  log->info("head started version={} address={} heartbeat_ms={} node_timeout_ms={}",
            concurry::version(),
            address,
            config.head.heartbeat_interval.count(),
            config.head.node_timeout.count());

  // Serving, until a signal or `concurry stop`.
  bool asked = false;
  while (!asked && !signals.received())
    asked = head->wait_stop_requested(signal_check_interval);
  if (asked)
    log->info("stop requested by a client");

  // Draining.
  head->stop_nodes(drain_timeout);
  head.reset();
  log->info("head stopped address={}", address);
  return cli::exit_ok;
}

} // namespace

int main(int argc, char** argv) {
  cli::head_config config;
  try {
    config = cli::parse_head_options(std::vector<std::string>(argv + 1, argv + argc),
                                     cli::process_environment());
  } catch (const concurry::config_error& e) {
    std::cerr << "concurry-head: error: " << e.what()
              << "\nRun 'concurry-head --help' for the options.\n";
    return cli::exit_usage;
  }
  if (config.what == cli::request::help) {
    std::cout << cli::head_usage();
    return cli::exit_ok;
  }
  if (config.what == cli::request::version) {
    std::cout << "concurry-head " << concurry::version() << '\n';
    return cli::exit_ok;
  }
  actors::set_log_level(config.log_level);
  try {
    return run(config);
  } catch (const std::exception& e) {
    actors::logger("head")->error("head failed error={}", e.what());
    return cli::exit_failure;
  }
}
