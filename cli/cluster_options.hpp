// The options of the cluster-mode programs: `concurry-head`, `concurry-node`, and the
// `concurry status` and `concurry stop` subcommands. Each comes from the command line, an INI
// file given with --config (the same names without the dashes: `num-cpus = 2`), and for a few
// of them the environment; the command line wins over the file, the file over the environment.
//
// Parsing is pure: it reads no file but the config file, starts nothing, and never exits. A bad
// option, value or key throws concurry::config_error with a message that names it.
#pragma once

#include "actors/cluster_head.hpp"
#include "actors/cluster_node.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace concurry::cli {

/// Looks up an environment variable; nothing when it is unset. Tests pass their own.
using environment = std::function<std::optional<std::string>(std::string_view name)>;

/// The environment of this process (std::getenv). An empty variable counts as unset.
environment process_environment();

/// The environment variable that holds the head's HOST:PORT for nodes and the admin commands.
inline constexpr std::string_view address_variable = "CONCURRY_ADDRESS";
/// The environment variable that holds the cluster's token.
inline constexpr std::string_view token_variable = "CONCURRY_TOKEN";

/// What a command line asks a program to do.
enum class request {
  run,     ///< run with the options parsed
  help,    ///< print the usage and exit (the other options were not checked)
  version, ///< print the version and exit (the other options were not checked)
};

/// The log levels that --log-level accepts, as spdlog names them.
inline constexpr std::string_view log_levels[] = {
    "trace", "debug", "info", "warn", "error", "critical", "off"};

/// The settings of one run of `concurry-head`.
struct head_config {
  request what = request::run;
  actors::head_options head;
  std::string log_level = "info";
};

/// The settings of one run of `concurry-node`.
struct node_config {
  request what = request::run;
  /// `executable` and `arguments` are left empty: the node runs itself as worker hosts.
  actors::node_options node;
  std::string log_level = "info";
  /// Shared libraries to load before the runtime starts, in order; their static registrations
  /// add worker types. Paths as given (a name without '/' is searched as dlopen searches it).
  std::vector<std::string> worker_libraries;
};

/// The settings of `concurry status` and `concurry stop`.
struct admin_config {
  request what = request::run;
  std::string head_host;
  std::uint16_t head_port = 0;
  std::string token;
  bool json = false; ///< `concurry status --json`; always false for `concurry stop`
};

/// Which admin command is parsed: they differ only in `--json`.
enum class admin_command { status, stop };

/// A head's address split: "HOST:PORT", with an IPv6 host in brackets ("[::1]:6380").
struct head_address {
  std::string host;
  std::uint16_t port = 0;
};

/// Splits "HOST:PORT"; the port must be 1 to 65535. Throws config_error naming `origin` (such as
/// "--address") and the text otherwise.
head_address parse_head_address(std::string_view text, std::string_view origin);

/// The CPUs a node offers when --num-cpus is not given: the number of cores, at least 1.
double default_num_cpus();

/// An amount of CPUs or of a resource as the shortest decimal that reads back as it ("0.5", "2").
std::string format_amount(double amount);

/// Parses the arguments of `concurry-head` (without the program name). Throws config_error.
head_config parse_head_options(const std::vector<std::string>& args, const environment& env);

/// Parses the arguments of `concurry-node` (without the program name). Throws config_error.
node_config parse_node_options(const std::vector<std::string>& args, const environment& env);

/// Parses the arguments of `concurry status` or `concurry stop` (after the command's name).
/// Throws config_error.
admin_config parse_admin_options(admin_command command,
                                 const std::vector<std::string>& args,
                                 const environment& env);

/// The usage and option list of each program, for --help.
std::string head_usage();
std::string node_usage();
std::string admin_usage(admin_command command);

} // namespace concurry::cli
