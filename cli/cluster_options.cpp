#include "cluster_options.hpp"

#include <concurry/error.hpp>

#include "scheduler/amount.hpp"

#include <boost/program_options.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <system_error>
#include <thread>
#include <utility>

namespace concurry::cli {

namespace {

namespace po = boost::program_options;

/// The longest interval the millisecond options take: a day.
constexpr std::int64_t max_interval_ms = 86'400'000;

// ---------------------------------------------------------------------------------------------
// Where values come from

/// One value of an option, with where it was given, for error messages.
struct found {
  std::string value;
  std::string name;  ///< "--port" on the command line, "port" in a file, or an env variable
  std::string where; ///< "" or " in config file FILE"
};

[[noreturn]] void reject(const found& f, std::string_view why) {
  throw config_error{"invalid " + f.name + " '" + f.value + "'" + f.where + ": " +
                     std::string{why}};
}

/// The command line and the config file of one run, looked up command line first.
class option_sources {
public:
  option_sources(po::variables_map cli, po::variables_map file, std::string file_name)
      : cli_{std::move(cli)}, file_{std::move(file)}, file_name_{std::move(file_name)} {}

  /// The value of a single-valued option, if given.
  [[nodiscard]] std::optional<found> get(const std::string& key) const {
    if (cli_.count(key))
      return found{cli_[key].as<std::string>(), "--" + key, ""};
    if (file_.count(key))
      return found{file_[key].as<std::string>(), key, in_file()};
    return std::nullopt;
  }

  /// As get(), falling back to the environment variable `variable`.
  [[nodiscard]] std::optional<found>
  get(const std::string& key, std::string_view variable, const environment& env) const {
    if (auto f = get(key))
      return f;
    if (auto value = env(variable))
      return found{*value, std::string{variable}, ""};
    return std::nullopt;
  }

  /// Whether a switch (po::bool_switch) is on; switches are command-line only.
  [[nodiscard]] bool get_flag(const std::string& key) const {
    return cli_.count(key) && cli_[key].as<bool>();
  }

  /// The values of a repeatable option: the command line's when it has any, else the file's.
  [[nodiscard]] std::vector<found> get_all(const std::string& key) const {
    std::vector<found> all;
    const bool on_cli = cli_.count(key) > 0;
    if (!on_cli && !file_.count(key))
      return all;
    for (const auto& value : (on_cli ? cli_ : file_)[key].as<std::vector<std::string>>())
      all.push_back(found{value, on_cli ? "--" + key : key, on_cli ? "" : in_file()});
    return all;
  }

private:
  [[nodiscard]] std::string in_file() const { return " in config file " + file_name_; }

  po::variables_map cli_;
  po::variables_map file_;
  std::string file_name_;
};

/// What a command line holds: a request and, for request::run, its sources.
struct command_line {
  request what = request::run;
  std::optional<option_sources> sources;
};

po::variables_map parse_cli(const std::vector<std::string>& args,
                            const po::options_description& options) {
  po::variables_map vm;
  try {
    // No positional options: without this, Boost ignores stray words instead of rejecting them.
    po::positional_options_description no_positionals;
    po::store(po::command_line_parser(args).options(options).positional(no_positionals).run(), vm);
    po::notify(vm);
  } catch (const po::unknown_option& e) {
    throw config_error{"unknown option '" + e.get_option_name() + "'"};
  } catch (const po::error& e) {
    throw config_error{e.what()};
  }
  return vm;
}

po::variables_map parse_file(const std::string& path, const po::options_description& keys) {
  std::ifstream in{path};
  if (!in)
    throw config_error{"cannot read config file " + path + ": " +
                       std::error_code{errno, std::generic_category()}.message()};
  po::variables_map vm;
  try {
    po::store(po::parse_config_file(in, keys, /*allow_unregistered=*/false), vm);
    po::notify(vm);
  } catch (const po::unknown_option& e) {
    throw config_error{"unknown key '" + e.get_option_name() + "' in config file " + path};
  } catch (const po::error& e) {
    throw config_error{"config file " + path + ": " + e.what()};
  }
  return vm;
}

/// Parses the command line, then the config file it names, if any. `keys` are the options that
/// may appear in both; the command line also takes --config, --help and --version.
command_line read_command_line(const std::vector<std::string>& args,
                               const po::options_description& keys,
                               const po::options_description& cli_only) {
  po::options_description all;
  all.add(keys).add(cli_only);
  auto cli = parse_cli(args, all);
  if (cli.count("help"))
    return {request::help, std::nullopt};
  if (cli.count("version"))
    return {request::version, std::nullopt};
  po::variables_map file;
  std::string file_name;
  if (cli.count("config")) {
    file_name = cli["config"].as<std::string>();
    file = parse_file(file_name, keys);
  }
  return {request::run, option_sources{std::move(cli), std::move(file), std::move(file_name)}};
}

// ---------------------------------------------------------------------------------------------
// Values

bool is_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::uint16_t parse_port(const found& f, std::uint16_t min) {
  auto range = "must be an integer from " + std::to_string(min) + " to 65535";
  if (!is_digits(f.value) || f.value.size() > 5)
    reject(f, range);
  auto port = std::stoul(f.value);
  if (port < min || port > 65535)
    reject(f, range);
  return static_cast<std::uint16_t>(port);
}

std::chrono::milliseconds parse_interval(const found& f) {
  auto range = "must be an integer from 1 to " + std::to_string(max_interval_ms);
  if (!is_digits(f.value) || f.value.size() > 9)
    reject(f, range);
  auto ms = std::stoll(f.value);
  if (ms < 1 || ms > max_interval_ms)
    reject(f, range);
  return std::chrono::milliseconds{ms};
}

std::string parse_log_level(const found& f) {
  if (std::find(std::begin(log_levels), std::end(log_levels), f.value) == std::end(log_levels))
    reject(f, "must be one of trace, debug, info, warn, error, critical, off");
  return f.value;
}

std::string trimmed(std::string_view s) {
  auto is_space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!s.empty() && is_space(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && is_space(s.back()))
    s.remove_suffix(1);
  return std::string{s};
}

/// The amount `text` (a part of f.value) stands for: a decimal of at most 4 places, >= 0.
scheduler::amount parse_amount(const found& f, const std::string& text) {
  auto subject = text == f.value ? std::string{} : "'" + text + "' ";
  if (text.starts_with('-'))
    reject(f, subject + "must not be negative");
  try {
    return scheduler::amount::parse(text);
  } catch (const config_error& e) {
    // amount::parse says "amount TEXT: WHY"; the option and its value are named here instead.
    std::string message = e.what();
    reject(f, subject + message.substr(message.rfind(": ") + 2));
  }
}

double parse_cpus(const found& f) {
  auto text = trimmed(f.value);
  if (text.starts_with('-'))
    reject(f, "must be greater than 0");
  auto cpus = parse_amount(f, text);
  if (cpus.is_zero())
    reject(f, "must be greater than 0");
  return cpus.to_double();
}

bool is_resource_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' ||
           c == '/' || c == ':';
  });
}

/// Adds the entries of one --resources value ("gpu=1" or "gpu=1,accel=2.5") to `out`.
void add_resources(const found& f, std::map<std::string, double>& out) {
  std::string_view rest = f.value;
  // One round per comma-separated entry.
  while (true) {
    auto comma = rest.find(',');
    auto entry = trimmed(rest.substr(0, comma));
    auto equals = entry.find('=');
    if (entry.empty() || equals == std::string::npos)
      reject(f, "expected name=amount entries separated by commas, such as gpu=1,accel=0.5");
    auto name = trimmed(std::string_view{entry}.substr(0, equals));
    if (!is_resource_name(name))
      reject(f, "'" + name + "' is not a resource name (letters, digits and _-./: only)");
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) {
      return static_cast<char>(std::tolower(c));
    });
    if (lower == "cpu")
      reject(f, "CPUs are given with num-cpus, not as a resource");
    if (lower.starts_with("worker:"))
      reject(f, "names starting with 'worker:' are reserved for worker types");
    auto units = parse_amount(f, trimmed(std::string_view{entry}.substr(equals + 1)));
    if (!out.emplace(name, units.to_double()).second)
      reject(f, "resource '" + name + "' is given more than once");
    if (comma == std::string_view::npos)
      return;
    rest.remove_prefix(comma + 1);
  }
}

std::string parse_library(const found& f) {
  if (f.value.empty())
    reject(f, "needs the path of a shared library");
  // The libraries reach the worker hosts as a colon-separated list.
  if (f.value.find(':') != std::string::npos)
    reject(f, "a path with ':' in it cannot be passed on to worker hosts");
  return f.value;
}

/// Throws unless `f` holds a value; `hint()` says how to give one.
template <class Hint>
void require(const std::optional<found>& f, std::string_view what, Hint&& hint) {
  if (!f)
    throw config_error{std::string{what} + " is missing: " + hint()};
}

// ---------------------------------------------------------------------------------------------
// The programs' options

po::options_description cli_only_options(bool with_config) {
  po::options_description desc{"other options"};
  auto add = desc.add_options();
  if (with_config)
    add("config",
        po::value<std::string>()->value_name("FILE"),
        "read options from an INI file (long names without dashes: `log-level = debug`); the "
        "command line wins over it");
  add("help,h", "print this help and exit");
  add("version,V", "print the version and exit");
  return desc;
}

po::options_description head_keys() {
  po::options_description desc{"options"};
  auto add = desc.add_options();
  add("address",
      po::value<std::string>()->value_name("HOST"),
      "the address to listen on (default: 127.0.0.1; a LAN address or 0.0.0.0 to take nodes "
      "from other machines)");
  add("port",
      po::value<std::string>()->value_name("PORT"),
      ("the port to listen on; 0 picks a free one (default: " +
       std::to_string(actors::default_head_port) + ")")
          .c_str());
  add("token",
      po::value<std::string>()->value_name("TOKEN"),
      "the cluster's shared secret that nodes and clients must present (default: $CONCURRY_TOKEN; "
      "required)");
  add("log-level",
      po::value<std::string>()->value_name("LEVEL"),
      "trace, debug, info, warn, error, critical or off (default: info)");
  add("heartbeat-interval-ms",
      po::value<std::string>()->value_name("MS"),
      "how often nodes heartbeat (default: 500)");
  add("node-timeout-ms",
      po::value<std::string>()->value_name("MS"),
      "a node silent this long is declared dead (default: 2500)");
  return desc;
}

po::options_description node_keys() {
  po::options_description desc{"options"};
  auto add = desc.add_options();
  add("address",
      po::value<std::string>()->value_name("HOST:PORT"),
      "the head to join (default: $CONCURRY_ADDRESS; required)");
  add("token",
      po::value<std::string>()->value_name("TOKEN"),
      "the cluster's shared secret (default: $CONCURRY_TOKEN; required)");
  add("num-cpus",
      po::value<std::string>()->value_name("N"),
      "CPUs offered, fractions down to 0.0001 allowed (default: the number of cores)");
  add("resources",
      po::value<std::vector<std::string>>()->value_name("NAME=AMOUNT[,...]"),
      "custom resources offered, such as gpu=1 or gpu=1,accel=0.5; may be repeated");
  add("name",
      po::value<std::string>()->value_name("NAME"),
      "the node's name, unique in the cluster (default: HOSTNAME-PID)");
  add("worker-library",
      po::value<std::vector<std::string>>()->value_name("PATH"),
      "a shared library whose registrations add worker types; may be repeated");
  add("log-level",
      po::value<std::string>()->value_name("LEVEL"),
      "trace, debug, info, warn, error, critical or off (default: info)");
  return desc;
}

po::options_description admin_keys(admin_command command) {
  po::options_description desc{"options"};
  auto add = desc.add_options();
  add("address",
      po::value<std::string>()->value_name("HOST:PORT"),
      "the head (default: $CONCURRY_ADDRESS; required)");
  add("token",
      po::value<std::string>()->value_name("TOKEN"),
      "the cluster's shared secret (default: $CONCURRY_TOKEN; required)");
  if (command == admin_command::status)
    add("json", po::bool_switch(), "print the status as one JSON object");
  return desc;
}

std::string usage(std::string_view synopsis,
                  std::string_view summary,
                  const po::options_description& keys,
                  const po::options_description& cli_only) {
  std::ostringstream os;
  os << "usage: " << synopsis << "\n\n" << summary << "\n\n" << keys << '\n' << cli_only;
  return os.str();
}

std::string token_hint() {
  return "give --token, token in the config file, or set " + std::string{token_variable};
}

} // namespace

environment process_environment() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string{name}.c_str());
    if (!value || !*value)
      return std::nullopt;
    return std::string{value};
  };
}

head_address parse_head_address(std::string_view text, std::string_view origin) {
  found f{std::string{text}, std::string{origin}, ""};
  std::string_view host;
  std::string_view port;
  if (text.starts_with('[')) {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      reject(f, "expected [IPV6]:PORT such as [::1]:6380");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos)
      reject(f, "expected HOST:PORT such as 127.0.0.1:6380");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos)
      reject(f, "put an IPv6 address in brackets: [::1]:6380");
  }
  if (host.empty())
    reject(f, "the host is missing");
  return {std::string{host}, parse_port(found{std::string{port}, f.name, f.where}, 1)};
}

std::string format_amount(double amount) {
  char text[32];
  auto [end, ec] = std::to_chars(text, text + sizeof text, amount);
  return ec == std::errc{} ? std::string(text, end) : std::string{"?"};
}

double default_num_cpus() {
  return std::max(1u, std::thread::hardware_concurrency());
}

head_config parse_head_options(const std::vector<std::string>& args, const environment& env) {
  auto line = read_command_line(args, head_keys(), cli_only_options(/*with_config=*/true));
  head_config config;
  config.what = line.what;
  if (line.what != request::run)
    return config;
  const auto& sources = *line.sources;
  auto& head = config.head;
  if (auto f = sources.get("address")) {
    if (f->value.empty())
      reject(*f, "needs a host name or address");
    head.address = f->value;
  }
  if (auto f = sources.get("port"))
    head.port = parse_port(*f, 0);
  auto token = sources.get("token", token_variable, env);
  require(token, "the token", token_hint);
  if (token->value.empty())
    reject(*token, "must not be empty");
  head.token = token->value;
  if (auto f = sources.get("log-level"))
    config.log_level = parse_log_level(*f);
  if (auto f = sources.get("heartbeat-interval-ms"))
    head.heartbeat_interval = parse_interval(*f);
  if (auto f = sources.get("node-timeout-ms"))
    head.node_timeout = parse_interval(*f);
  if (head.node_timeout <= head.heartbeat_interval)
    throw config_error{"node-timeout-ms (" + std::to_string(head.node_timeout.count()) +
                       ") must be greater than heartbeat-interval-ms (" +
                       std::to_string(head.heartbeat_interval.count()) + ")"};
  return config;
}

node_config parse_node_options(const std::vector<std::string>& args, const environment& env) {
  auto line = read_command_line(args, node_keys(), cli_only_options(/*with_config=*/true));
  node_config config;
  config.what = line.what;
  if (line.what != request::run)
    return config;
  const auto& sources = *line.sources;
  auto& node = config.node;

  // The head and the token: required.
  auto address = sources.get("address", address_variable, env);
  require(address, "the head's address", [] {
    return "give --address HOST:PORT, address in the config file, or set " +
           std::string{address_variable};
  });
  auto head = parse_head_address(address->value, address->name + address->where);
  node.head_address = head.host;
  node.head_port = head.port;
  auto token = sources.get("token", token_variable, env);
  require(token, "the token", token_hint);
  node.token = token->value;

  // What the node offers, and what it is called.
  node.num_cpus = default_num_cpus();
  if (auto f = sources.get("num-cpus"))
    node.num_cpus = parse_cpus(*f);
  for (const auto& f : sources.get_all("resources"))
    add_resources(f, node.resources);
  if (auto f = sources.get("name"))
    node.name = f->value;
  for (const auto& f : sources.get_all("worker-library"))
    config.worker_libraries.push_back(parse_library(f));
  if (auto f = sources.get("log-level"))
    config.log_level = parse_log_level(*f);
  return config;
}

admin_config parse_admin_options(admin_command command,
                                 const std::vector<std::string>& args,
                                 const environment& env) {
  auto line = read_command_line(args, admin_keys(command), cli_only_options(/*with_config=*/false));
  admin_config config;
  config.what = line.what;
  if (line.what != request::run)
    return config;
  const auto& sources = *line.sources;
  auto address = sources.get("address", address_variable, env);
  require(address, "the head's address", [] {
    return "give --address HOST:PORT or set " + std::string{address_variable};
  });
  auto head = parse_head_address(address->value, address->name);
  config.head_host = head.host;
  config.head_port = head.port;
  auto token = sources.get("token", token_variable, env);
  require(token, "the token", [] { return "give --token or set " + std::string{token_variable}; });
  config.token = token->value;
  if (command == admin_command::status)
    config.json = sources.get_flag("json");
  return config;
}

std::string head_usage() {
  return usage(
      "concurry-head [options]",
      "Runs the head of a concurry cluster: the node table, the placement of workers on\n"
      "nodes, and the cluster-wide limits. Prints 'concurry-head listening on ADDRESS:PORT'"
      "\nonce it listens, and stops on SIGINT, SIGTERM or 'concurry stop'.",
      head_keys(),
      cli_only_options(/*with_config=*/true));
}

std::string node_usage() {
  return usage("concurry-node [options]",
               "Runs a node of a concurry cluster: joins the head with its CPUs, resources and\n"
               "worker types, and starts worker hosts when the head places workers on it. Stops\n"
               "on SIGINT, SIGTERM or when the head stops the cluster.",
               node_keys(),
               cli_only_options(/*with_config=*/true));
}

std::string admin_usage(admin_command command) {
  if (command == admin_command::status)
    return usage("concurry status [options]",
                 "Prints the status of a cluster: its nodes, resources, pools, pending demands\n"
                 "and limits.",
                 admin_keys(command),
                 cli_only_options(/*with_config=*/false));
  return usage("concurry stop [options]",
               "Stops a cluster: the head tells every node to stop its workers and exit, then\n"
               "exits itself.",
               admin_keys(command),
               cli_only_options(/*with_config=*/false));
}

} // namespace concurry::cli
