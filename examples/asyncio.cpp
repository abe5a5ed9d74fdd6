// asyncio mode: a worker whose methods are C++20 coroutines. Its coroutines interleave on one
// event-loop thread at their co_awaits (a sleep standing in for network I/O, a limit, the
// future of a call on another pool); its plain methods run in order on a second thread.
#include <concurry/concurry.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

// CPU work belongs on a thread pool, not on the event loop.
class word_counter : public concurry::worker<word_counter> {
public:
  int count(const std::string& text) {
    int words = 0;
    bool in_word = false;
    for (char c : text) {
      bool letter = c != ' ';
      words += letter && !in_word;
      in_word = letter;
    }
    return words;
  }
};
CONCURRY_WORKER(word_counter, (), count)

class fetcher : public concurry::worker<fetcher> {
public:
  explicit fetcher(concurry::handle<word_counter> counters) : counters_{std::move(counters)} {}

  // "Downloads" a page: waits 200 ms for the network, holding one connection of the pool's
  // limit meanwhile, then has a thread-pool worker count its words.
  concurry::task<int> fetch(int page) {
    auto connection = co_await limits().acquire("connections", 1);
    co_await concurry::sleep(200ms);
    connection.release();
    ++fetched_;
    std::string body = "page " + std::to_string(page) + " of the example site";
    co_return co_await counters_.call(&word_counter::count, body);
  }

  // Polls until cancelled.
  concurry::task<int> watch() {
    for (;;)
      co_await concurry::sleep(50ms);
  }

  // A plain method: it runs on the worker's second thread, never on the event loop.
  int fetched() const { return fetched_; }

private:
  concurry::handle<word_counter> counters_;
  std::atomic<int> fetched_{0};
};
CONCURRY_LOCAL_WORKER(fetcher, (concurry::handle<word_counter>), fetch, watch, fetched)

namespace {
double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Fetches pages 0..n-1 and returns how long it took.
double fetch_all(const concurry::pool<fetcher>& pool, int n, int& words) {
  auto start = std::chrono::steady_clock::now();
  std::vector<concurry::future<int>> pages;
  for (int page = 0; page < n; ++page)
    pages.push_back(pool.call(&fetcher::fetch, page));
  words = 0;
  for (int w : concurry::gather(pages))
    words += w;
  return seconds_since(start);
}
} // namespace

int main() {
  concurry::runtime rt;
  auto counters = word_counter::options().max_workers(2).init();

  // One asyncio worker, at most 10 connections at once: ten fetches wait together.
  {
    auto pool = fetcher::options()
                    .mode(concurry::mode::asyncio)
                    .limits({concurry::resource_limit{"connections", 10}})
                    .init(counters.ref());
    int words = 0;
    double took = fetch_all(pool, 10, words);
    std::printf("asyncio, 10 connections: 10 pages, %d words, together in under 1 s: %s\n",
                words,
                took < 1.0 ? "yes" : "no");
    std::printf("fetched, asked on the plain-method thread: %d\n",
                pool.call(&fetcher::fetched).result());
  }

  // The same worker with 2 connections: the coroutines wait for the limit without blocking the
  // loop, so the pages come in five rounds of two.
  {
    auto pool = fetcher::options()
                    .mode(concurry::mode::asyncio)
                    .limits({concurry::resource_limit{"connections", 2}})
                    .init(counters.ref());
    int words = 0;
    double took = fetch_all(pool, 10, words);
    std::printf("asyncio, 2 connections: 10 pages in five rounds of 200 ms: %s\n",
                took >= 0.95 && took < 3.0 ? "yes" : "no");

    // A running coroutine stops at its next co_await when its future is cancelled.
    auto watcher = pool.call(&fetcher::watch);
    std::this_thread::sleep_for(100ms);
    bool cancelled = watcher.cancel();
    std::printf("watch cancelled while it ran: %s\n",
                cancelled && watcher.cancelled() ? "yes" : "no");
  }

  // In thread mode a coroutine method runs to its end on its worker: one call at a time.
  {
    auto pool = fetcher::options()
                    .mode(concurry::mode::thread)
                    .max_workers(1)
                    .limits({concurry::resource_limit{"connections", 10}})
                    .init(counters.ref());
    int words = 0;
    double took = fetch_all(pool, 3, words);
    std::printf("thread mode, one worker: 3 pages one after another: %s\n",
                took >= 0.59 ? "yes" : "no");
  }
}
