// What every subcommand of the concurry command-line tool shares: its entry point's shape and
// the exit statuses it returns.
#pragma once

#include <string>
#include <vector>

namespace concurry::cli {

/// Exit statuses of the `concurry`, `concurry-head` and `concurry-node` binaries.
enum exit_status : int {
  exit_ok = 0,          ///< the command did its work
  exit_failure = 1,     ///< the command ran and failed; the reason is on stderr
  exit_usage = 2,       ///< the command line was wrong; the error and the usage are on stderr
  exit_refused = 3,     ///< the cluster's head refused the token
  exit_unreachable = 4, ///< the cluster's head could not be reached or did not answer
};

/// The arguments that follow a subcommand's name on the command line.
using command_args = std::vector<std::string>;

/// The entry point of a subcommand. It parses its own options, writes results to stdout and
/// errors to stderr, and returns an `exit_status`; it does not throw.
using command_fn = int (*)(const command_args& args);

} // namespace concurry::cli
