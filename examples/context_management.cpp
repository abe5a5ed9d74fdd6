// The user guide's "Context manager": the pool owner is a scope. Leaving the scope stops every
// worker (their destructors run, the calls in flight finish first), also when an exception
// unwinds it, and a call through a handle that outlived its pool fails with stopped_error.
#include <concurry/concurry.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <thread>

namespace {

/// Workers whose destructors ran, in every pool of this program.
std::atomic<int> closed_workers{0};

class data_processor : public concurry::worker<data_processor> {
public:
  explicit data_processor(int multiplier) : multiplier_{multiplier} {}
  ~data_processor() override { ++closed_workers; }

  int process(int value) { return value * multiplier_; }

  int slow_process(int value) {
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
    return value * multiplier_;
  }

private:
  int multiplier_;
};
CONCURRY_WORKER(data_processor, (int), process, slow_process)

/// Makes one more call through `h` and prints what became of it.
void call_again(const char* when, const concurry::handle<data_processor>& h) {
  try {
    std::printf("%s: the call returned %d\n", when, h.call(&data_processor::process, 1).result());
  } catch (const concurry::stopped_error&) {
    std::printf("%s: pool stopped=%s, a new call fails with stopped_error\n",
                when,
                h.is_stopped() ? "true" : "false");
  }
}

} // namespace

int main(int argc, char** argv) {
  concurry::runtime rt{argc, argv};
  concurry::handle<data_processor> h;

  // The owner's scope is the pool's lifetime.
  {
    auto pool = data_processor::options().mode(concurry::mode::thread).max_workers(5).init(10);
    h = pool.ref();
    std::printf("in the scope: process(42) = %d on %zu workers\n",
                pool.call(&data_processor::process, 42).result(),
                pool.stats().total_workers);
  }
  std::printf("after the scope: %d workers closed\n", closed_workers.exchange(0));
  call_again("after the scope", h);

  // A blocking pool is a scope just the same.
  {
    auto pool = data_processor::options().max_workers(5).blocking().init(10);
    std::printf("blocking pool:");
    for (int i = 0; i < 10; ++i)
      std::printf(" %d", pool.call(&data_processor::process, i));
    std::printf("\n");
  }
  std::printf("after the blocking pool: %d workers closed\n", closed_workers.exchange(0));

  // An exception leaving the scope stops the pool too; the call in flight still finishes.
  concurry::future<int> in_flight;
  try {
    auto pool =
        data_processor::options().max_workers(3).stop_timeout(std::chrono::seconds{10}).init(2);
    h = pool.ref();
    in_flight = pool.call(&data_processor::slow_process, 21);
    throw std::runtime_error{"error occurred"};
  } catch (const std::runtime_error& e) {
    std::printf("caught \"%s\": %d workers closed, the call in flight returned %d\n",
                e.what(),
                closed_workers.exchange(0),
                in_flight.result());
  }
  call_again("after the exception", h);

  // stop() ends the pool before its scope does; stopping twice is harmless.
  auto pool = data_processor::options().max_workers(2).init(3);
  std::printf("before stop: %d\n", pool.call(&data_processor::process, 5).result());
  pool.stop();
  pool.stop();
  call_again("after stop()", pool.ref());
}
