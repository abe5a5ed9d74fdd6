// Benchmark: a trivial call, increment(x) = x + 1, in child processes, in one run:
//
//   - concurry: a process pool of 2 workers (two worker host processes);
//   - the floor: a raw socketpair ping-pong with one forked child, 4-byte messages;
//   - the ceiling of the transport: CAF 0.17's own remote request to an actor in each of two
//     children (this binary re-executed), over the middleman on 127.0.0.1, with no concurry
//     layer; once with the settings of concurry's actor systems (actors/actor_host.cpp) and once
//     with CAF's defaults. Each is called from a scoped_actor (a blocking caller, as a concurry
//     user waits on futures) and from an event-based actor; its row takes the better figures;
//   - the peer: Python's concurrent.futures.ProcessPoolExecutor(max_workers=2)
//     (bench/python_processpool.py, as a child).
//
// For each: sequential round trips with one call in flight (p50 and p99 in microseconds), and
// pipelined runs with a sliding window of 1,000 calls in flight (calls per second, the median of
// three runs). Prints a table, the ratios to concurry and the verdicts of issue 6's targets.
// Exits 0 unless something broke: a wrong result, an exception, or the watchdog (a hung peer,
// exit 3) — a slow result is no failure. Every child is killed and reaped, also on failure.
//
// Usage: process_pool_bench [--quick] [--no-python]

#include "caf_remote_peer.hpp"
#include "child_process.hpp"
#include "peer_measure.hpp"
#include "script_peer.hpp"

#include <concurry/concurry.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#ifndef CONCURRY_BENCH_PYTHON_SCRIPT
#error "CONCURRY_BENCH_PYTHON_SCRIPT must name bench/python_processpool.py (bench/CMakeLists.txt)"
#endif

/// The worker of the concurry pool; built in the worker hosts, which run this same binary.
class bench_worker : public concurry::worker<bench_worker> {
public:
  int increment(int x) { return x + 1; }
};
CONCURRY_WORKER(bench_worker, (), increment)

namespace {

using namespace std::chrono_literals;
using bench_child::child_process;
using bench_child::fd_guard;
using bench_child::find_in_path;
using bench_child::kill_live_children;
using bench_child::system_error_text;
using peer_measure::clock_type;
using peer_measure::find_row;
using peer_measure::guarded;
using peer_measure::measure_peer;
using peer_measure::peer_figures;

/// Decimals of the microsecond figures this benchmark prints.
constexpr int us_decimals = 1;

/// The argument that makes this binary a child of the CAF peer.
constexpr std::string_view caf_child_flag = "--caf-peer-child";

// ---------------------------------------------------------------------------------------------
// Configuration

struct bench_config {
  bool quick = false;
  bool python = true;
  /// Runs only the peer of this name (concurry, floor, caf, caf-defaults, python); empty: all.
  std::string only;
  peer_measure::measure_config measure{.method = "increment",
                                       .seq_warmup = 1'000,
                                       .seq_calls = 10'000,
                                       .pipe_warmup = 10'000,
                                       .pipe_calls = 100'000,
                                       .window = 1'000,
                                       .repeats = 3,
                                       .seq_check_every = 128,
                                       .phase_limit = std::chrono::seconds{15}};
  std::size_t python_seq_warmup = 500;
  std::size_t python_seq_calls = 5'000;
  std::size_t python_pipe_calls = 20'000;
  std::chrono::seconds python_limit{60};
  // Past this the process kills its children and ends (exit 3): a hung peer must not hang CI.
  std::chrono::seconds hard_limit{300};
};

bench_config quick_config() {
  bench_config c;
  c.quick = true;
  c.measure.seq_warmup = 100;
  c.measure.seq_calls = 1'000;
  c.measure.pipe_warmup = 2'000;
  c.measure.pipe_calls = 10'000;
  c.measure.repeats = 1;
  c.python_seq_warmup = 100;
  c.python_seq_calls = 500;
  c.python_pipe_calls = 2'000;
  c.measure.phase_limit = std::chrono::seconds{3};
  c.python_limit = std::chrono::seconds{10};
  c.hard_limit = std::chrono::seconds{50};
  return c;
}

// ---------------------------------------------------------------------------------------------
// concurry

peer_figures bench_concurry(const bench_config& cfg) {
  return guarded("concurry process pool (2)", us_decimals, [&] {
    auto pool = bench_worker::options().mode(concurry::mode::process).max_workers(2).init();
    auto submit = [&pool](int x) { return pool.call(&bench_worker::increment, x); };
    auto get = [](concurry::future<int>& f) { return f.result(); };
    auto figures = measure_peer("concurry process pool (2)", cfg.measure, submit, get);
    pool.stop();
    return figures;
  });
}

// ---------------------------------------------------------------------------------------------
// The floor: a socketpair between this process and a forked child that answers each 4-byte
// integer with that integer plus one.

/// The forked child's loop: reads what is there, answers every whole integer in one write, and
/// ends at end of file. Only system calls: the parent has other threads.
[[noreturn]] void echo_increments(int fd) {
  std::int32_t buffer[1024];
  std::size_t have = 0; // bytes in buffer
  // Bounded by the parent, which closes the socket at the end (or dies, and with it this child).
  for (;;) {
    auto* bytes = reinterpret_cast<char*>(buffer);
    const auto n = ::read(fd, bytes + have, sizeof buffer - have);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      ::_exit(n == 0 ? 0 : 1);
    have += static_cast<std::size_t>(n);
    const std::size_t whole = have / sizeof(std::int32_t);
    for (std::size_t i = 0; i < whole; ++i)
      ++buffer[i];
    const std::size_t out = whole * sizeof(std::int32_t);
    for (std::size_t sent = 0; sent < out;) {
      const auto w = ::send(fd, bytes + sent, out - sent, MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0)
        ::_exit(1);
      sent += static_cast<std::size_t>(w);
    }
    // A partial integer stays for the next read.
    std::memmove(bytes, bytes + out, have - out);
    have -= out;
  }
}

/// The parent's end: one write per call, buffered reads of the answers (which come in order).
///
/// NOTE: a send that would block first drains the answers waiting: each small write is a buffer
/// of its own in the kernel, so 1,000 of them fill the socket, and with both sides blocked in
/// send the two processes would wait on each other forever.
class socket_client {
public:
  explicit socket_client(int fd) : fd_{fd} {}

  int submit(int x) {
    const std::int32_t value = x;
    const auto* bytes = reinterpret_cast<const char*>(&value);
    // Bounded: each round sends, drains answers, or fails after 5 s without either.
    for (std::size_t sent = 0; sent < sizeof value;) {
      const auto w = ::send(fd_, bytes + sent, sizeof value - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0 && errno == EAGAIN) {
        wait_writable();
        continue;
      }
      if (w <= 0)
        throw std::runtime_error(system_error_text("socketpair send"));
      sent += static_cast<std::size_t>(w);
    }
    return x;
  }

  int get(int&) {
    // Bounded: each read returns data, or fails after the socket's 5 s receive timeout.
    while (end_ - begin_ < sizeof(std::int32_t))
      fill(/*flags=*/0);
    std::int32_t value = 0;
    std::memcpy(&value, buffer_ + begin_, sizeof value);
    begin_ += sizeof value;
    return value;
  }

private:
  // Reads what the socket has into the buffer (which holds far more than a window of answers).
  void fill(int flags) {
    std::memmove(buffer_, buffer_ + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
    const auto n = ::recv(fd_, buffer_ + end_, sizeof buffer_ - end_, flags);
    if (n < 0 && errno == EINTR)
      return;
    if (n < 0 && errno == EAGAIN && flags == MSG_DONTWAIT)
      return;
    if (n < 0 && errno == EAGAIN)
      throw std::runtime_error("the socketpair child answered nothing for 5 s");
    if (n <= 0)
      throw std::runtime_error(n == 0 ? std::string{"the socketpair child ended"}
                                      : system_error_text("socketpair read"));
    end_ += static_cast<std::size_t>(n);
  }

  void wait_writable() {
    pollfd p{fd_, POLLIN | POLLOUT, 0};
    if (::poll(&p, 1, 5000) == 0)
      throw std::runtime_error("the socketpair child answered nothing for 5 s");
    if (p.revents & POLLIN)
      fill(MSG_DONTWAIT);
  }

  int fd_;
  char buffer_[16384];
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

peer_figures bench_socketpair(const bench_config& cfg) {
  const std::string name = "floor: socketpair ping-pong (1 child)";
  return guarded(name, us_decimals, [&] {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
      throw std::runtime_error(system_error_text("socketpair"));
    fd_guard mine{fds[0]};
    fd_guard theirs{fds[1]};
    const timeval receive_timeout{5, 0};
    ::setsockopt(mine.get(), SOL_SOCKET, SO_RCVTIMEO, &receive_timeout, sizeof receive_timeout);
    const pid_t pid = bench_child::fork_child();
    if (pid == 0) {
      ::close(fds[0]);
      echo_increments(fds[1]);
    }
    child_process child{pid};
    theirs.reset();
    auto client = std::make_unique<socket_client>(mine.get());
    auto submit = [&](int x) { return client->submit(x); };
    auto get = [&](int& x) { return client->get(x); };
    auto figures = measure_peer(name, cfg.measure, submit, get);
    mine.reset(); // the child reads end of file and exits
    if (!child.end())
      throw std::runtime_error("the socketpair child did not exit cleanly");
    return figures;
  });
}

// ---------------------------------------------------------------------------------------------
// The ceiling: CAF's own remote request, one actor in each of two children.

using caf_remote_peer::caf_settings;

/// The child's side, run by this binary with `--caf-peer-child <settings>` (bench_caf).
[[noreturn]] void run_caf_peer_child(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "process_pool_bench: %s needs <settings>\n", argv[1]);
    std::_Exit(2);
  }
  caf_remote_peer::serve_child(caf_remote_peer::settings_from_string(argv[2]),
                               "process_pool_bench");
}

peer_figures bench_caf(const bench_config& cfg, caf_settings settings) {
  const std::string name = std::string{"CAF remote request, "} +
                           (settings == caf_settings::concurry ? "concurry's" : "CAF's default") +
                           " settings";
  return caf_remote_peer::bench_caf_remote({.name = name,
                                            .measure = cfg.measure,
                                            .settings = settings,
                                            .children = 2,
                                            .program = "/proc/self/exe",
                                            .args = {"process_pool_bench",
                                                     std::string{caf_child_flag},
                                                     caf_remote_peer::to_string(settings)}});
}

// ---------------------------------------------------------------------------------------------
// The peer: Python's ProcessPoolExecutor

peer_figures bench_python(const bench_config& cfg) {
  const std::string name = "Python ProcessPoolExecutor (2)";
  return guarded(name, us_decimals, [&] {
    const std::string python = find_in_path("python3");
    if (python.empty())
      throw std::runtime_error("python3 is not on PATH");
    return script_peer::run_script({.name = name,
                                    .tag = "python",
                                    .program = python,
                                    .argv0 = "python3",
                                    .script = CONCURRY_BENCH_PYTHON_SCRIPT,
                                    .workers = 2,
                                    .calls = {.seq_warmup = cfg.python_seq_warmup,
                                              .seq_calls = cfg.python_seq_calls,
                                              .pipe_calls = cfg.python_pipe_calls,
                                              .window = cfg.measure.window,
                                              .repeats = cfg.measure.repeats},
                                    .time_limit = cfg.python_limit,
                                    .margin = 20s,
                                    .grace = 5000ms});
  });
}

// ---------------------------------------------------------------------------------------------
// Output

/// Prints "target: <what> <op> <bound>: PASS/FAIL (<ratio>)"; SKIPPED when a side is missing.
/// `at_least`: the ratio must be >= bound, else <= bound.
void print_verdict(const char* what, double ratio, bool measured, bool at_least, double bound) {
  if (!measured) {
    std::printf(
        "target: %s %s %.1f: SKIPPED (not measured)\n", what, at_least ? ">=" : "<=", bound);
    return;
  }
  const bool pass = at_least ? ratio >= bound : ratio <= bound;
  std::printf("target: %s %s %.1f: %s (%.2f)\n",
              what,
              at_least ? ">=" : "<=",
              bound,
              pass ? "PASS" : "FAIL",
              ratio);
}

void print_verdicts(const std::vector<peer_figures>& rows, bool python_ran) {
  const auto* concurry = find_row(rows, "concurry");
  if (!concurry) {
    std::printf("target: all SKIPPED (concurry not measured)\n");
    return;
  }
  const peer_figures& c = *concurry;
  const auto* caf = find_row(rows, "CAF remote request, concurry's");
  const auto* python = find_row(rows, "Python");
  const auto* floor = find_row(rows, "floor");
  const bool have_caf = c.measured && caf;
  print_verdict("concurry pipelined / CAF pipelined",
                have_caf ? c.pipelined_calls_per_s / caf->pipelined_calls_per_s : NAN,
                have_caf,
                /*at_least=*/true,
                0.8);
  if (python_ran)
    print_verdict("concurry pipelined / Python pipelined",
                  c.measured && python ? c.pipelined_calls_per_s / python->pipelined_calls_per_s
                                       : NAN,
                  c.measured && python,
                  /*at_least=*/true,
                  10);
  else
    std::printf("target: concurry pipelined / Python pipelined >= 10.0: SKIPPED (--no-python)\n");
  print_verdict("concurry p50 / CAF p50",
                have_caf ? c.seq_p50_us / caf->seq_p50_us : NAN,
                have_caf,
                /*at_least=*/false,
                1.5);
  if (c.measured && floor)
    std::printf("info: concurry p50 / socketpair p50 = %.2f; concurry pipelined / socketpair "
                "pipelined = %.3f\n",
                c.seq_p50_us / floor->seq_p50_us,
                c.pipelined_calls_per_s / floor->pipelined_calls_per_s);
}

void print_usage() {
  std::printf("usage: process_pool_bench [--quick] [--no-python] [--only <peer>]\n"
              "  --quick        fewer calls, for a CI smoke run\n"
              "  --no-python    skip Python's ProcessPoolExecutor\n"
              "  --only <peer>  run one peer: concurry, floor, caf, caf-defaults or python\n");
}

bool is_peer_name(std::string_view name) {
  for (std::string_view known : {"concurry", "floor", "caf", "caf-defaults", "python"})
    if (name == known)
      return true;
  return false;
}

} // namespace

int main(int argc, char** argv) try {
  // Before the runtime: a CAF peer child needs no concurry actor system. Worker hosts run with
  // this program's own arguments, never with this flag, so they pass by.
  if (argc > 1 && argv[1] == caf_child_flag)
    run_caf_peer_child(argc, argv);
  concurry::runtime rt{argc, argv};

  bench_config cfg;
  bool python = true;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--quick") {
      cfg = quick_config();
    } else if (arg == "--no-python") {
      python = false;
    } else if (arg == "--only" && i + 1 < argc && is_peer_name(argv[i + 1])) {
      only = argv[++i];
    } else {
      return peer_measure::answer_other_argument("process_pool_bench", arg, print_usage);
    }
  }
  cfg.python = python && (only.empty() || only == "python");
  cfg.only = only;
  // Children not in the list (concurry's worker hosts, Python's workers) die with their parent
  // through PR_SET_PDEATHSIG.
  peer_measure::watchdog guard{cfg.hard_limit, "process_pool_bench", kill_live_children};

  peer_measure::print_run_header("process_pool_bench", cfg.measure, cfg.quick);

  const auto start = clock_type::now();
  std::vector<peer_figures> rows;
  auto wanted = [&](std::string_view peer) { return cfg.only.empty() || cfg.only == peer; };
  if (wanted("concurry"))
    rows.push_back(bench_concurry(cfg));
  if (wanted("floor"))
    rows.push_back(bench_socketpair(cfg));
  if (wanted("caf"))
    rows.push_back(bench_caf(cfg, caf_settings::concurry));
  if (wanted("caf-defaults"))
    rows.push_back(bench_caf(cfg, caf_settings::defaults));
  if (cfg.python)
    rows.push_back(bench_python(cfg));
  const auto seconds = std::chrono::duration<double>(clock_type::now() - start).count();

  peer_measure::print_ratio_table(rows, find_row(rows, "concurry"), /*name_width=*/44, us_decimals);
  std::printf("\n");
  print_verdicts(rows, cfg.python);
  std::printf("\ntotal %.1f s\n", seconds);

  // A C++ peer that failed is a crash; Python's absence is reported above but fails nothing.
  return peer_measure::has_failed_cpp_peer(rows) ? 1 : 0;
} catch (const std::exception& e) {
  kill_live_children();
  std::fprintf(stderr, "process_pool_bench: %s\n", e.what());
  return 1;
}
