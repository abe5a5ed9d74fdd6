// A program the process host tests start, in two roles:
//   host_probe print <marker>    as a worker host, writes lines to stdout and stderr first
//   host_probe client <marker>   starts 4 worker hosts of itself, prints "ready <pids>", and
//                                waits (60 s at most) to be killed
// The marker is only there to find the processes in /proc.
#include "runtime/internal/host.hpp"
#include "runtime/internal/process_host.hpp"

#include <concurry/runtime.hpp>

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

namespace {

// NOTE: on purpose before the runtime object, which a real program must not do: this is how a
// worker's own output is imitated until hosts run workers.
void write_lines_as_host() {
  if (std::getenv(concurry::runtime_internal::worker_host_variable) == nullptr)
    return;
  std::printf("first line\nsecond line\n");
  std::fflush(stdout);
  std::fprintf(stderr, "a line on stderr\n");
  [[maybe_unused]] auto a = ::write(1, "no newline at the end", 21);
  [[maybe_unused]] auto b = ::write(2, "partial on stderr", 17);
}

int run_client() {
  namespace ri = concurry::runtime_internal;
  std::mutex mutex;
  std::condition_variable changed;
  int hellos = 0;
  ri::process_hosts::events events;
  events.on_hello = [&](const concurry::actors::host_identity&) {
    std::lock_guard guard{mutex};
    ++hellos;
    changed.notify_all();
  };
  ri::process_hosts hosts{ri::current_host(), events};
  std::string line = "ready";
  for (int worker = 0; worker < 4; ++worker) {
    line += ' ';
    line += std::to_string(hosts.start(worker));
  }
  {
    std::unique_lock lock{mutex};
    if (!changed.wait_for(lock, std::chrono::seconds{30}, [&] { return hellos == 4; })) {
      std::fprintf(stderr, "host_probe: only %d of 4 hellos\n", hellos);
      return 1;
    }
  }
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
  // The test kills this process; 60 s is only the bound.
  std::this_thread::sleep_for(std::chrono::seconds{60});
  return 1;
}

} // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "print") == 0)
    write_lines_as_host();
  concurry::runtime rt{argc, argv};
  if (argc > 1 && std::strcmp(argv[1], "client") == 0)
    return run_client();
  return 0;
}
