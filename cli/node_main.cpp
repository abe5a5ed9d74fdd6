// `concurry-node`: a node of a cluster. Joins the head and hosts workers until SIGINT, SIGTERM or
// the head stops it.
//
//     concurry-node --address HOST:PORT [--token TOKEN] [--num-cpus N] [--resources gpu=1] ...
//
// The node starts its worker hosts by running this program again with CONCURRY_WORKER_HOST set;
// such a process loads the worker libraries named in CONCURRY_WORKER_LIBRARIES, then becomes a
// worker host in concurry::runtime's constructor, which never returns.

#include "cluster_options.hpp"
#include "command.hpp"
#include "stop_signals.hpp"

#include <concurry/concurry.hpp>

#include "actors/cluster_node.hpp"
#include "actors/log.hpp"
#include "runtime/internal/host.hpp"
#include "runtime/internal/process_host.hpp"

#include <dlfcn.h>
#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace cli = concurry::cli;
namespace actors = concurry::actors;

/// The colon-separated worker libraries that a node passes on to its worker hosts.
constexpr const char* libraries_variable = "CONCURRY_WORKER_LIBRARIES";

/// Loads a worker library so that its static registrations run and its symbols serve the
/// libraries loaded after it. Returns why it failed, or nothing.
std::optional<std::string> load_library(const std::string& path) {
  if (::dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL) != nullptr)
    return std::nullopt;
  const char* why = ::dlerror();
  return why ? why : "unknown error";
}

/// The worker host's main: the libraries, then the runtime, which serves and ends the process.
int run_worker_host(int argc, char** argv) {
  // A node that blocks its stop signals may pass the mask on; a worker host must stop on them.
  sigset_t stop_set;
  sigemptyset(&stop_set);
  sigaddset(&stop_set, SIGINT);
  sigaddset(&stop_set, SIGTERM);
  pthread_sigmask(SIG_UNBLOCK, &stop_set, nullptr);
  const char* list = std::getenv(libraries_variable);
  std::string_view rest = list ? list : "";
  // One round per library in the list.
  while (!rest.empty()) {
    auto colon = rest.find(':');
    std::string path{rest.substr(0, colon)};
    rest = colon == std::string_view::npos ? std::string_view{} : rest.substr(colon + 1);
    if (path.empty())
      continue;
    if (auto why = load_library(path)) {
      std::cerr << "concurry-node: worker host: cannot load worker library " << path << ": " << *why
                << '\n';
      return cli::exit_usage;
    }
  }
  concurry::runtime rt{argc, argv};
  return cli::exit_failure; // not reached: the runtime ran the worker host and ended the process
}

std::string head_text(const actors::node_options& options) {
  bool is_ipv6 = options.head_address.find(':') != std::string::npos;
  auto host = is_ipv6 ? "[" + options.head_address + "]" : options.head_address;
  return host + ":" + std::to_string(options.head_port);
}

std::string resources_text(const actors::node_options& options) {
  std::string text;
  for (const auto& [name, amount] : options.resources)
    text += (text.empty() ? "" : ",") + name + "=" + cli::format_amount(amount);
  return text.empty() ? "none" : text;
}

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string text;
  for (const auto& item : items)
    text += (text.empty() ? "" : std::string{separator}) + item;
  return text;
}

/// Runs the node on this thread until it stops; returns the exit status.
int run(int argc, char** argv, const cli::node_config& config) {
  // The runtime first (after the libraries), for the worker hosts of process mode; the signals
  // are blocked just before, so that every thread it starts inherits the mask.
  std::atomic<actors::cluster_node*> running{nullptr};
  auto log = actors::logger("node");
  cli::stop_signals signals{[log, &running](int signal, int count) {
    if (count > 1) {
      log->warn("stopped without stopping the worker hosts signal={}", signal);
      std::_Exit(cli::exit_failure);
    }
    log->info("stop requested signal={}", signal);
    if (auto* node = running.load())
      node->request_stop();
  }};
  concurry::runtime rt{argc, argv, concurry::runtime_options{.log_level = config.log_level}};
  actors::set_log_level(config.log_level);

  // The node, joining.
  const auto& options = config.node;
  log->info("node started version={} head={} name={} cpus={} resources={} worker_libraries={}",
            concurry::version(),
            head_text(options),
            options.name.empty() ? "(hostname-pid)" : options.name,
            cli::format_amount(options.num_cpus),
            resources_text(options),
            config.worker_libraries.empty() ? "none" : join(config.worker_libraries, ","));
  actors::cluster_node node{concurry::runtime_internal::current_host(), options};
  running.store(&node);
  if (signals.received())
    node.request_stop();
  std::string why;
  auto end = node.run(&why);
  running.store(nullptr);

  // How it ended.
  switch (end) {
  case actors::node_end::stopped:
    log->info("node stopped head={}", head_text(options));
    return cli::exit_ok;
  case actors::node_end::refused:
    std::cerr << "concurry-node: error: the head at " << head_text(options)
              << " refused this node: " << (why.empty() ? "wrong token" : why) << '\n';
    return cli::exit_refused;
  case actors::node_end::unreachable:
    std::cerr << "concurry-node: error: cannot reach the head at " << head_text(options) << " in "
              << options.connect_timeout.count() << " ms\n";
    return cli::exit_unreachable;
  }
  return cli::exit_failure;
}

} // namespace

int main(int argc, char** argv) {
  if (std::getenv(concurry::runtime_internal::worker_host_variable) != nullptr)
    return run_worker_host(argc, argv);

  // The options, and the worker libraries they name.
  cli::node_config config;
  try {
    config = cli::parse_node_options(std::vector<std::string>(argv + 1, argv + argc),
                                     cli::process_environment());
  } catch (const concurry::config_error& e) {
    std::cerr << "concurry-node: error: " << e.what()
              << "\nRun 'concurry-node --help' for the options.\n";
    return cli::exit_usage;
  }
  if (config.what == cli::request::help) {
    std::cout << cli::node_usage();
    return cli::exit_ok;
  }
  if (config.what == cli::request::version) {
    std::cout << "concurry-node " << concurry::version() << '\n';
    return cli::exit_ok;
  }
  for (const auto& path : config.worker_libraries) {
    if (auto why = load_library(path)) {
      std::cerr << "concurry-node: error: cannot load worker library " << path << ": " << *why
                << '\n';
      return cli::exit_usage;
    }
  }

  // What the worker hosts inherit: the libraries to load, and the log level.
  if (config.worker_libraries.empty())
    ::unsetenv(libraries_variable);
  else
    ::setenv(libraries_variable, join(config.worker_libraries, ":").c_str(), /*overwrite=*/1);
  ::setenv("CONCURRY_LOG_LEVEL", config.log_level.c_str(), /*overwrite=*/1);
  try {
    return run(argc, argv, config);
  } catch (const concurry::config_error& e) {
    std::cerr << "concurry-node: error: " << e.what() << '\n';
    return cli::exit_usage;
  } catch (const std::exception& e) {
    actors::logger("node")->error("node failed error={}", e.what());
    return cli::exit_failure;
  }
}
