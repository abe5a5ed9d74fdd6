// Tests of the cluster-mode options: concurry-head, concurry-node, `concurry status` and
// `concurry stop`, from the command line, an INI file and the environment.

#include "cluster_options.hpp"

#include <concurry/error.hpp>

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

namespace cli = concurry::cli;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

/// An environment, a config file and the parsers: `head("--port", "1")` parses a command line.
class options_fixture {
public:
  options_fixture() {
    // mkdtemp replaces the trailing six X characters.
    std::string pattern =
        (fs::temp_directory_path() / "concurry-options-").string() + std::string(6, 'X');
    if (::mkdtemp(pattern.data()) == nullptr)
      throw std::runtime_error{"mkdtemp failed"};
    root_ = pattern;
  }
  options_fixture(const options_fixture&) = delete;
  options_fixture& operator=(const options_fixture&) = delete;
  ~options_fixture() {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  /// Writes `text` as the config file; returns its path.
  std::string write_config(const std::string& text) const {
    auto path = (root_ / "cluster.ini").string();
    std::ofstream{path} << text;
    return path;
  }

  template <class... Args>
  cli::head_config head(Args... args) const {
    return cli::parse_head_options({args...}, environment());
  }
  template <class... Args>
  cli::node_config node(Args... args) const {
    return cli::parse_node_options({args...}, environment());
  }
  template <class... Args>
  cli::admin_config status(Args... args) const {
    return cli::parse_admin_options(cli::admin_command::status, {args...}, environment());
  }

  std::map<std::string, std::string, std::less<>> env;

private:
  [[nodiscard]] cli::environment environment() const {
    return [this](std::string_view name) -> std::optional<std::string> {
      auto it = env.find(name);
      return it == env.end() ? std::nullopt : std::optional{it->second};
    };
  }

  fs::path root_;
};

/// The message of the config_error that `parse` throws; fails the test when it throws none.
template <class Parse>
std::string error_of(Parse&& parse) {
  try {
    parse();
  } catch (const concurry::config_error& e) {
    return e.what();
  }
  FAIL("no config_error");
  return "";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace

TEST_CASE_FIXTURE(options_fixture, "the head takes its defaults when only a token is given") {
  auto config = head("--token", "t");
  CHECK(config.what == cli::request::run);
  CHECK(config.head.address == "127.0.0.1");
  CHECK(config.head.port == concurry::actors::default_head_port);
  CHECK(config.head.token == "t");
  CHECK(config.head.heartbeat_interval == 500ms);
  CHECK(config.head.node_timeout == 2500ms);
  CHECK(config.log_level == "info");
}

TEST_CASE_FIXTURE(options_fixture, "the head reads every option from the command line") {
  auto config = head("--address",
                     "0.0.0.0",
                     "--port",
                     "0",
                     "--token",
                     "t",
                     "--log-level",
                     "debug",
                     "--heartbeat-interval-ms",
                     "100",
                     "--node-timeout-ms",
                     "900");
  CHECK(config.head.address == "0.0.0.0");
  CHECK(config.head.port == 0);
  CHECK(config.log_level == "debug");
  CHECK(config.head.heartbeat_interval == 100ms);
  CHECK(config.head.node_timeout == 900ms);
}

TEST_CASE_FIXTURE(options_fixture, "the head reads its options from an INI file") {
  auto path = write_config("# a comment\naddress = 10.0.0.5\nport = 7000\ntoken = secret\n"
                           "node-timeout-ms = 4000\n");
  auto config = head("--config", path.c_str());
  CHECK(config.head.address == "10.0.0.5");
  CHECK(config.head.port == 7000);
  CHECK(config.head.token == "secret");
  CHECK(config.head.node_timeout == 4000ms);
}

TEST_CASE_FIXTURE(options_fixture, "the command line wins over the INI file") {
  auto path = write_config("port = 7000\ntoken = from-file\n");
  auto config = head("--config", path.c_str(), "--port", "7001", "--token", "from-cli");
  CHECK(config.head.port == 7001);
  CHECK(config.head.token == "from-cli");
}

TEST_CASE_FIXTURE(options_fixture, "the token comes from CONCURRY_TOKEN when given nowhere else") {
  env["CONCURRY_TOKEN"] = "from-env";
  CHECK(head().head.token == "from-env");
  CHECK(head("--token", "from-cli").head.token == "from-cli");
  auto path = write_config("token = from-file\n");
  CHECK(head("--config", path.c_str()).head.token == "from-file");
}

TEST_CASE_FIXTURE(options_fixture, "a head without a token is refused") {
  CHECK(contains(error_of([&] { head(); }), "CONCURRY_TOKEN"));
}

TEST_CASE_FIXTURE(options_fixture, "an unknown key in the INI file is an error naming it") {
  auto path = write_config("token = t\nnum-cpu = 2\n");
  auto message = error_of([&] { head("--config", path.c_str()); });
  CHECK(contains(message, "unknown key 'num-cpu'"));
  CHECK(contains(message, path));
}

TEST_CASE_FIXTURE(options_fixture, "an unknown command-line option is an error naming it") {
  CHECK(contains(error_of([&] { head("--token", "t", "--prot", "1"); }), "--prot"));
  CHECK(contains(error_of([&] { node("--adress", "h:1"); }), "--adress"));
}

TEST_CASE_FIXTURE(options_fixture, "a missing config file is an error naming it") {
  auto message = error_of([&] { head("--token", "t", "--config", "/nonexistent/c.ini"); });
  CHECK(contains(message, "/nonexistent/c.ini"));
}

TEST_CASE_FIXTURE(options_fixture, "a port out of range is refused") {
  for (const char* port : {"65536", "-1", "80a", "", "1000000"}) {
    CAPTURE(port);
    CHECK(contains(error_of([&] { head("--token", "t", "--port", port); }), "--port"));
  }
  auto path = write_config("token = t\nport = 70000\n");
  auto message = error_of([&] { head("--config", path.c_str()); });
  CHECK(contains(message, "invalid port '70000' in config file"));
}

TEST_CASE_FIXTURE(options_fixture, "an unknown log level is refused") {
  CHECK(contains(error_of([&] { head("--token", "t", "--log-level", "loud"); }), "--log-level"));
}

TEST_CASE_FIXTURE(options_fixture, "a node timeout not above the heartbeat interval is refused") {
  auto message = error_of([&] {
    head("--token", "t", "--heartbeat-interval-ms", "1000", "--node-timeout-ms", "1000");
  });
  CHECK(contains(message, "node-timeout-ms"));
}

TEST_CASE_FIXTURE(options_fixture, "help and version are answered before the other options") {
  CHECK(head("--help").what == cli::request::help);
  CHECK(head("-V").what == cli::request::version);
  CHECK(node("--help").what == cli::request::help);
  CHECK(contains(cli::node_usage(), "--worker-library"));
}

TEST_CASE_FIXTURE(options_fixture, "a node takes its defaults when given a head and a token") {
  auto config = node("--address", "127.0.0.1:6380", "--token", "t");
  CHECK(config.node.head_address == "127.0.0.1");
  CHECK(config.node.head_port == 6380);
  CHECK(config.node.token == "t");
  CHECK(config.node.num_cpus == cli::default_num_cpus());
  CHECK(config.node.resources.empty());
  CHECK(config.node.name.empty());
  CHECK(config.worker_libraries.empty());
  CHECK(config.log_level == "info");
}

TEST_CASE_FIXTURE(options_fixture, "a node's head and token come from the environment") {
  env["CONCURRY_ADDRESS"] = "[::1]:7000";
  env["CONCURRY_TOKEN"] = "from-env";
  auto config = node();
  CHECK(config.node.head_address == "::1");
  CHECK(config.node.head_port == 7000);
  CHECK(config.node.token == "from-env");
  CHECK(node("--address", "h:1").node.head_address == "h");
}

TEST_CASE_FIXTURE(options_fixture, "a node without a head address is refused") {
  env["CONCURRY_TOKEN"] = "t";
  CHECK(contains(error_of([&] { node(); }), "CONCURRY_ADDRESS"));
  for (const char* bad : {"localhost", "h:0", ":6380", "::1:6380", "h:65536"}) {
    CAPTURE(bad);
    CHECK(contains(error_of([&] { node("--address", bad); }), "--address"));
  }
}

TEST_CASE_FIXTURE(options_fixture, "a node offers fractional CPUs") {
  auto config = node("--address", "h:1", "--token", "t", "--num-cpus", "0.5");
  CHECK(config.node.num_cpus == 0.5);
}

TEST_CASE_FIXTURE(options_fixture, "a node refuses zero, negative and malformed CPUs") {
  for (std::string cpus : {"0", "-1", "abc", "0.00001", "1e3"}) {
    CAPTURE(cpus);
    auto option = "--num-cpus=" + cpus; // "=": Boost would read "-1" as an option
    auto message = error_of([&] { node("--address", "h:1", "--token", "t", option.c_str()); });
    CHECK(contains(message, "invalid --num-cpus"));
  }
}

TEST_CASE_FIXTURE(options_fixture, "resources may be repeated and comma-separated") {
  auto config = node("--address",
                     "h:1",
                     "--token",
                     "t",
                     "--resources",
                     "gpu=1",
                     "--resources",
                     "accel=8, mem=2.5",
                     "--resources",
                     "none=0");
  std::map<std::string, double> expected{{"gpu", 1}, {"accel", 8}, {"mem", 2.5}, {"none", 0}};
  CHECK(config.node.resources == expected);
}

TEST_CASE_FIXTURE(options_fixture, "malformed resources are refused") {
  for (const char* bad : {"gpu",
                          "gpu=",
                          "=1",
                          "gpu=-1",
                          "gpu=1,",
                          "gpu=1,gpu=2",
                          "cpu=2",
                          "worker:x=1",
                          "g pu=1",
                          "gpu=x"}) {
    CAPTURE(bad);
    auto message = error_of([&] { node("--address", "h:1", "--token", "t", "--resources", bad); });
    CHECK(contains(message, "invalid --resources"));
  }
}

TEST_CASE_FIXTURE(options_fixture, "a node reads every option from an INI file") {
  auto path = write_config("address = head.lan:6380\ntoken = t\nnum-cpus = 2\n"
                           "resources = gpu=1\nresources = accel=0.5\nname = n1\n"
                           "worker-library = /opt/w/libone.so\nworker-library = libtwo.so\n"
                           "log-level = warn\n");
  auto config = node("--config", path.c_str());
  CHECK(config.node.head_address == "head.lan");
  CHECK(config.node.num_cpus == 2);
  CHECK(config.node.resources == std::map<std::string, double>{{"accel", 0.5}, {"gpu", 1}});
  CHECK(config.node.name == "n1");
  CHECK(config.worker_libraries == std::vector<std::string>{"/opt/w/libone.so", "libtwo.so"});
  CHECK(config.log_level == "warn");
}

TEST_CASE_FIXTURE(options_fixture, "the command line's resources replace the file's") {
  auto path = write_config("address = h:1\ntoken = t\nresources = gpu=1\n");
  auto config = node("--config", path.c_str(), "--resources", "accel=2");
  CHECK(config.node.resources == std::map<std::string, double>{{"accel", 2}});
}

TEST_CASE_FIXTURE(options_fixture, "a worker library path with a colon is refused") {
  auto message =
      error_of([&] { node("--address", "h:1", "--token", "t", "--worker-library", "a:b.so"); });
  CHECK(contains(message, "--worker-library"));
}

TEST_CASE_FIXTURE(options_fixture, "status takes its head and token from the environment") {
  env["CONCURRY_ADDRESS"] = "10.1.2.3:6380";
  env["CONCURRY_TOKEN"] = "t";
  auto config = status("--json");
  CHECK(config.head_host == "10.1.2.3");
  CHECK(config.head_port == 6380);
  CHECK(config.token == "t");
  CHECK(config.json);
  CHECK(status("--address", "h:9").head_host == "h");
  CHECK_FALSE(status().json);
}

TEST_CASE_FIXTURE(options_fixture, "stop takes no --json") {
  auto message = error_of([&] {
    cli::parse_admin_options(cli::admin_command::stop,
                             {"--address", "h:1", "--json"},
                             [](std::string_view) { return std::optional<std::string>{}; });
  });
  CHECK(contains(message, "--json"));
}

TEST_CASE_FIXTURE(options_fixture, "the example configs in cluster-configs parse") {
  std::string dir = CONCURRY_CLUSTER_CONFIGS;
  auto local_head = head("--config", (dir + "/local-head.ini").c_str(), "--token", "t");
  CHECK(local_head.head.port == 6380);
  auto node_1 = node("--config", (dir + "/local-node-1.ini").c_str(), "--token", "t");
  auto node_2 = node("--config", (dir + "/local-node-2.ini").c_str(), "--token", "t");
  CHECK(node_1.node.num_cpus == 2);
  CHECK(node_1.node.name != node_2.node.name);
  CHECK(head("--config", (dir + "/multi-host-head.ini").c_str()).head.address == "192.168.1.10");
  auto multi_node = node("--config", (dir + "/multi-host-node.ini").c_str());
  CHECK(multi_node.node.resources.size() == 3);
}
