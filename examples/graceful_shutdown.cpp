// The user guide's "Graceful shutdown": before stopping a pool, broadcast a flush to every
// worker, gather what each one flushed, then stop. Calls from one handle to one worker start in
// the order they were made, so each worker's flush runs after the writes queued on it before.
#include <concurry/concurry.hpp>
#include <concurry/wait.hpp>

#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

/// Buffers records and writes them out in batches.
class batch_writer : public concurry::worker<batch_writer> {
public:
  void write(int record) {
    std::this_thread::sleep_for(20ms);
    buffer_.push_back(record);
  }

  /// Writes out the buffer and returns the records it held, oldest first.
  std::vector<int> flush() {
    std::vector<int> out;
    out.swap(buffer_);
    return out;
  }

private:
  std::vector<int> buffer_;
};
CONCURRY_WORKER(batch_writer, (), write, flush)

} // namespace

int main(int argc, char** argv) {
  concurry::runtime rt{argc, argv};
  auto pool = batch_writer::options().max_workers(4).load_balancing("round_robin").init();
  for (int record = 0; record < 10; ++record)
    pool.call(&batch_writer::write, record);

  // The writes are still running or queued; each flush waits behind those of its worker.
  auto flushed = concurry::gather(pool.broadcast(&batch_writer::flush), 10s);
  std::size_t total = 0;
  for (std::size_t w = 0; w < flushed.size(); ++w) {
    std::printf("worker %zu flushed", w);
    for (int record : flushed[w])
      std::printf(" %d", record);
    std::printf("\n");
    total += flushed[w].size();
  }
  std::printf("%zu records flushed\n", total);

  // Nothing is left in flight, so stop returns at once; new calls then fail.
  pool.stop(5s);
  std::size_t refused = 0;
  for (auto& f : pool.broadcast(&batch_writer::flush)) {
    try {
      f.result(10s);
    } catch (const concurry::stopped_error&) {
      ++refused;
    }
  }
  std::printf("stopped=%s, %zu of 4 flushes after stop failed with stopped_error\n",
              pool.is_stopped() ? "true" : "false",
              refused);
}
