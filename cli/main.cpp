// The `concurry` command-line tool: global options, then a subcommand that parses the rest.
//
//     concurry [--help] [--version] [-v] <command> [<options>]

#include "cluster_commands.hpp"
#include "command.hpp"
#include "demo_index.hpp"
#include "logger.hpp"

#include <concurry/concurry.hpp>

#include <boost/program_options.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <exception>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace cli = concurry::cli;
namespace po = boost::program_options;

/// A subcommand: the words that name it, a line for the usage, and its entry point.
struct command {
  std::string_view name; ///< words separated by single spaces, as typed: "demo index"
  std::string_view summary;
  cli::command_fn run;
};

// To add a subcommand, add its line here; it receives the arguments after its name.
const std::array commands{
    command{"demo index",
            "index the words of text files through three worker pools",
            &cli::demo_index_command},
    command{"status", "print the status of a cluster", &cli::status_command},
    command{"stop", "stop a cluster: its nodes, their workers and its head", &cli::stop_command},
};

void print_usage(std::ostream& os, const po::options_description& global) {
  os << "usage: concurry [options] <command> [<command options>]\n\ncommands:\n";
  for (const auto& c : commands)
    os << "  " << c.name
       << std::string(std::max<std::size_t>(16, c.name.size() + 2) - c.name.size(), ' ')
       << c.summary << '\n';
  os << '\n' << global << "\nRun 'concurry <command> --help' for the options of a command.\n";
}

int usage_error(const std::string& message, const po::options_description& global) {
  std::cerr << "concurry: error: " << message << "\n\n";
  print_usage(std::cerr, global);
  return cli::exit_usage;
}

/// How many leading `words` spell `name`; 0 when they do not spell all of it.
std::size_t match_command(std::string_view name, const std::vector<std::string>& words) {
  std::size_t matched = 0;
  // One round per word of the name, which has a handful.
  while (!name.empty()) {
    auto space = name.find(' ');
    auto word = name.substr(0, space);
    if (matched == words.size() || words[matched] != word)
      return 0;
    ++matched;
    name = space == std::string_view::npos ? std::string_view{} : name.substr(space + 1);
  }
  return matched;
}

/// Runs the command that `words` start with, or reports that none does.
int dispatch(const std::vector<std::string>& words, const po::options_description& global) {
  for (const auto& c : commands) {
    if (auto n = match_command(c.name, words))
      return c.run(cli::command_args(words.begin() + static_cast<std::ptrdiff_t>(n), words.end()));
  }
  std::string typed;
  for (const auto& w : words) {
    if (w.starts_with('-'))
      break;
    typed += (typed.empty() ? "" : " ") + w;
  }
  bool is_prefix = std::any_of(commands.begin(), commands.end(), [&](const command& c) {
    return c.name.starts_with(typed + ' ');
  });
  return usage_error((is_prefix ? "incomplete command '" : "unknown command '") + typed + "'",
                     global);
}

int run(int argc, char** argv) {
  po::options_description global{"global options"};
  auto add = global.add_options();
  add("help,h", "print this help and exit");
  add("version,V", "print the version and exit");
  add("verbose,v", po::bool_switch(), "log debug messages to stderr");

  // Global options come before the command's first word; the rest belongs to the command. They
  // are all flags, so the first argument without a leading '-' is that word.
  std::vector<std::string> args(argv + 1, argv + argc);
  auto first_word = std::find_if(
      args.begin(), args.end(), [](const std::string& a) { return !a.starts_with('-'); });
  std::vector<std::string> global_args(args.begin(), first_word);
  std::vector<std::string> words(first_word, args.end());

  po::variables_map vm;
  try {
    po::store(po::command_line_parser(global_args).options(global).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return usage_error(e.what(), global);
  }
  if (vm.count("help")) {
    print_usage(std::cout, global);
    return cli::exit_ok;
  }
  if (vm.count("version")) {
    std::cout << "concurry " << concurry::version() << '\n';
    return cli::exit_ok;
  }
  if (vm["verbose"].as<bool>())
    cli::logger().set_level(spdlog::level::debug);
  if (words.empty())
    return usage_error("no command given", global);
  return dispatch(words, global);
}

} // namespace

int main(int argc, char** argv) {
  concurry::runtime rt{argc, argv};
  auto& log = cli::logger();
  log.set_pattern("concurry: %^%l%$: %v");
  log.set_level(spdlog::level::warn);
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    log.error("{}", e.what());
    return cli::exit_failure;
  }
}
