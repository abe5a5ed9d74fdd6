#include "modes.hpp"
#include "test_workers.hpp"

#include <concurry/clock.hpp>
#include <concurry/error.hpp>
#include <concurry/progress.hpp>
#include <concurry/wait.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <latch>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using concurry::progress_bar;
using concurry::progress_state;
using concurry::progress_style;

namespace {

/// A stream that stands in for the terminal or the log, and the virtual time the bars read.
class screen {
public:
  explicit screen(progress_style style = progress_style::terminal) : style_{style} {}

  /// Options of a bar described "Reading" that draws here, without colour.
  progress_bar::options options(std::optional<std::uint64_t> total = std::nullopt) {
    progress_bar::options opts;
    opts.description = "Reading";
    opts.total = total;
    opts.out = &out_;
    opts.style = style_;
    opts.color = false;
    opts.clock = clock_;
    return opts;
  }

  void advance(std::chrono::nanoseconds by) { clock_->advance(by); }

  std::string text() const { return out_.str(); }

  /// What a person sees last: after the last carriage return, or the last whole line.
  std::string last_line() const {
    auto s = text();
    if (!s.empty() && s.back() == '\n')
      s.pop_back();
    auto cut = s.find_last_of(style_ == progress_style::terminal ? "\r\n" : "\n");
    return cut == std::string::npos ? s : s.substr(cut + 1);
  }

  std::size_t count_of(char c) const {
    auto s = text();
    return static_cast<std::size_t>(std::count(s.begin(), s.end(), c));
  }

private:
  progress_style style_;
  std::ostringstream out_;
  std::shared_ptr<concurry::manual_clock> clock_ = std::make_shared<concurry::manual_clock>();
};

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

/// Sets or clears NO_COLOR for one scope, restoring what it was.
class no_color_scope {
public:
  explicit no_color_scope(const char* value) {
    if (const char* old = std::getenv("NO_COLOR"))
      old_ = old;
    if (value)
      ::setenv("NO_COLOR", value, 1);
    else
      ::unsetenv("NO_COLOR");
  }
  no_color_scope(const no_color_scope&) = delete;
  no_color_scope& operator=(const no_color_scope&) = delete;
  ~no_color_scope() {
    if (old_)
      ::setenv("NO_COLOR", old_->c_str(), 1);
    else
      ::unsetenv("NO_COLOR");
  }

private:
  std::optional<std::string> old_;
};

} // namespace

TEST_CASE("a progress bar shows count, percentage, rate, elapsed time and time left") {
  screen s;
  progress_bar bar{s.options(100)};
  s.advance(5s);
  bar.update(25);
  auto line = s.last_line();
  CHECK(line.rfind("Reading:  25%|#", 0) == 0);
  CHECK(contains(line, "| 25/100 [00:05<00:15, 5.0 it/s]"));
}

TEST_CASE("a progress bar without a total shows the count and rate, no bar or time left") {
  screen s;
  progress_bar bar{s.options()};
  s.advance(2s);
  bar.update(7);
  CHECK(contains(s.last_line(), "Reading: 7 it [00:02, 3.5 it/s]"));
}

TEST_CASE("a progress bar scales its rate with k and M, and shows s/it below one per second") {
  screen s;
  progress_bar bar{s.options()};
  s.advance(1s);
  bar.update(12'345);
  CHECK(contains(s.last_line(), "12.3k it/s"));
  s.advance(1s);
  bar.update(6'987'655);
  CHECK(contains(s.last_line(), "3.5M it/s"));
  progress_bar slow{s.options()};
  s.advance(5s);
  slow.update(2);
  CHECK(contains(s.last_line(), "2.5 s/it"));
}

TEST_CASE("a progress bar over an hour shows hours in its times") {
  screen s;
  progress_bar bar{s.options(4)};
  s.advance(3723s);
  bar.update(1);
  CHECK(contains(s.last_line(), "[1:02:03<3:06:09,"));
}

TEST_CASE("a progress bar on a terminal redraws in place and clears the rest of the line") {
  screen s;
  progress_bar bar{s.options(10)};
  s.advance(1s);
  bar.update(3);
  CHECK(s.count_of('\r') == 2);
  CHECK(s.count_of('\n') == 0);
  CHECK(contains(s.text(), "\x1b[K"));
  bar.success();
  CHECK(s.count_of('\n') == 1);
}

TEST_CASE("a progress bar on a terminal redraws at most once per min_interval") {
  screen s;
  progress_bar bar{s.options(1000)};
  for (int i = 0; i < 100; ++i)
    bar.update(1);
  CHECK(s.count_of('\r') == 1); // the first draw only
  s.advance(100ms);
  bar.update(1);
  CHECK(s.count_of('\r') == 2);
  CHECK(contains(s.last_line(), "101/1000"));
}

TEST_CASE("a progress bar keeps its line within ncols") {
  screen s;
  auto opts = s.options(10);
  opts.ncols = 60;
  progress_bar bar{opts};
  s.advance(1s);
  bar.update(5);
  auto line = s.last_line();
  CHECK(line.size() == 60 + 3);                // and the clear-line sequence
  CHECK(contains(line, "|########        |")); // 16 columns left for the bar, half full
}

TEST_CASE("a progress bar ends in success, failure or stopped, printed once") {
  screen s;
  progress_bar bar{s.options(4)};
  bar.update(2);
  SUBCASE("success") {
    bar.success("Read");
    bar.failure();
    CHECK(bar.state() == progress_state::success);
    CHECK(contains(s.last_line(), "Read:  50%|"));
    CHECK(contains(s.last_line(), "2/4 [00:00, ? it/s] done"));
  }
  SUBCASE("failure") {
    bar.failure();
    CHECK(contains(s.last_line(), "] failed"));
  }
  SUBCASE("stopped") {
    bar.stop("Timeout");
    CHECK(contains(s.last_line(), "Timeout:  50%"));
    CHECK(contains(s.last_line(), "] stopped"));
  }
  CHECK(s.count_of('\n') == 1);
  bar.update(2);
  CHECK(s.count_of('\n') == 1);
  CHECK(bar.count() == 4);
}

TEST_CASE("a progress bar colours its final line on a terminal unless NO_COLOR is set") {
  screen s;
  auto opts = s.options(2);
  opts.color = true;
  SUBCASE("green success") {
    no_color_scope unset{nullptr};
    progress_bar{opts}.success();
    CHECK(contains(s.text(), "\x1b[32mReading:   0%"));
    CHECK(contains(s.text(), "done\x1b[0m"));
  }
  SUBCASE("red failure and grey stop") {
    no_color_scope unset{nullptr};
    progress_bar{opts}.failure();
    progress_bar{opts}.stop();
    CHECK(contains(s.text(), "\x1b[31m"));
    CHECK(contains(s.text(), "\x1b[90m"));
  }
  SUBCASE("NO_COLOR") {
    no_color_scope set{"1"};
    progress_bar{opts}.success();
    CHECK_FALSE(contains(s.text(), "\x1b[3"));
  }
  SUBCASE("plain output") {
    no_color_scope unset{nullptr};
    screen log{progress_style::plain};
    auto plain = log.options(2);
    plain.color = true;
    progress_bar{plain}.success();
    CHECK_FALSE(contains(log.text(), "\x1b"));
  }
}

TEST_CASE("a plain progress bar prints whole lines at each tenth, never a carriage return") {
  screen s{progress_style::plain};
  {
    progress_bar bar{s.options(1000)};
    for (int i = 0; i < 1000; ++i)
      bar.update(1);
    bar.success();
  }
  CHECK(s.count_of('\r') == 0);
  CHECK_FALSE(contains(s.text(), "\x1b"));
  CHECK(s.count_of('\n') == 10); // 10% to 90%, and the final line
  CHECK(contains(s.text(), "Reading:  10%|"));
  CHECK(contains(s.last_line(), "1000/1000 [00:00, ? it/s] done"));
}

TEST_CASE("a plain progress bar without a total prints a line per plain_interval") {
  screen s{progress_style::plain};
  progress_bar bar{s.options()};
  bar.update(5);
  CHECK(s.text().empty());
  s.advance(10s);
  bar.update(5);
  CHECK(s.text() == "Reading: 10 it [00:10, 1.0 it/s]\n");
  s.advance(5s);
  bar.update(1);
  CHECK(s.count_of('\n') == 1);
}

TEST_CASE("a disabled progress bar prints nothing, not even its final line") {
  for (auto style : {progress_style::terminal, progress_style::plain}) {
    screen s{style};
    auto opts = s.options(3);
    opts.disable = true;
    progress_bar bar{opts};
    bar.update(3);
    bar.failure();
    CHECK(s.text().empty());
    CHECK(bar.count() == 3);
  }
}

TEST_CASE("a progress bar with miniters below 1 is a config error") {
  screen s;
  auto opts = s.options();
  opts.miniters = 0;
  CHECK_THROWS_AS(progress_bar{opts}, concurry::config_error);
}

TEST_CASE("a progress bar with miniters redraws only once that many units accumulated") {
  screen s;
  auto opts = s.options(100);
  opts.miniters = 10;
  progress_bar bar{opts};
  s.advance(1s);
  bar.update(9);
  CHECK(s.count_of('\r') == 1);
  bar.update(1);
  CHECK(s.count_of('\r') == 2);
}

TEST_CASE("a progress bar counts concurrent updates from several threads exactly") {
  screen s{progress_style::plain};
  constexpr int threads = 8;
  constexpr int per_thread = 20'000;
  progress_bar bar{s.options(threads * per_thread)};
  {
    std::latch start{threads};
    std::vector<std::jthread> workers;
    for (int t = 0; t < threads; ++t)
      workers.emplace_back([&] {
        start.arrive_and_wait();
        for (int i = 0; i < per_thread; ++i)
          bar.update(1);
      });
  }
  bar.success();
  CHECK(bar.count() == threads * per_thread);
  CHECK(contains(s.last_line(), "160000/160000"));
  CHECK(s.count_of('\n') <= 10);
}

TEST_CASE("a progress bar's destructor ends it as success at its total, stopped before") {
  screen s{progress_style::plain};
  {
    progress_bar bar{s.options(2)};
    bar.update(2);
  }
  CHECK(contains(s.last_line(), "] done"));
  {
    progress_bar bar{s.options(2)};
    bar.update(1);
  }
  CHECK(contains(s.last_line(), "] stopped"));
}

TEST_CASE("a progress bar destroyed by an exception ends as failure") {
  screen s{progress_style::plain};
  try {
    progress_bar bar{s.options(2)};
    throw std::runtime_error{"disk full"};
  } catch (const std::runtime_error&) {
  }
  CHECK(contains(s.last_line(), "] failed"));
}

TEST_CASE("track shows the progress of a loop over a vector and ends in success") {
  screen s{progress_style::plain};
  std::vector<int> items{1, 2, 3};
  int sum = 0;
  for (int& x : concurry::track(items, s.options()))
    sum += x;
  CHECK(sum == 6);
  CHECK(contains(s.last_line(), "100%|"));
  CHECK(contains(s.last_line(), "3/3 [00:00, ? it/s] done"));
}

TEST_CASE("track ends its progress bar stopped after a break and failed after an exception") {
  screen s{progress_style::plain};
  std::vector<int> items{1, 2, 3, 4};
  for (int x : concurry::track(items, s.options())) {
    if (x == 2)
      break;
  }
  CHECK(contains(s.last_line(), "1/4 [00:00, ? it/s] stopped"));
  try {
    for (int x : concurry::track(items, s.options())) {
      if (x == 3)
        throw std::runtime_error{"bad item"};
    }
  } catch (const std::runtime_error&) {
  }
  CHECK(contains(s.last_line(), "2/4 [00:00, ? it/s] failed"));
}

TEST_CASE("track takes a temporary range, and shows an empty one as progress complete at once") {
  screen s{progress_style::plain};
  int n = 0;
  for (auto x : concurry::track(std::vector<int>{5, 6}, s.options()))
    n += x;
  CHECK(n == 11);
  CHECK(contains(s.last_line(), "2/2"));
  auto empty = concurry::track(std::vector<int>{}, s.options());
  CHECK(empty.begin() == empty.end());
  CHECK(empty.bar().state() == progress_state::success);
}

// ---------------------------------------------------------------------------------------------
// wait and gather

namespace {

/// Calls to a pool of sleepers in `mode`, and the progress option that draws on a screen.
class pool_calls {
public:
  explicit pool_calls(concurry::mode mode)
      : sleepers_{concurry_test::sleeper::options().mode(mode).max_workers(2).init()},
        gates_{concurry_test::gate::options().max_workers(1).init()} {}

  pool_calls(const pool_calls&) = delete;
  pool_calls& operator=(const pool_calls&) = delete;

  ~pool_calls() { release_.count_down(); }

  concurry::future<int> doubled(int value) {
    return sleepers_.call(&concurry_test::sleeper::checked_double, value);
  }

  /// A call that runs until the fixture ends.
  concurry::future<int> held() {
    auto f = gates_.call(&concurry_test::gate::hold, &started_, &release_);
    started_.wait();
    return f;
  }

  concurry::progress bar_on(screen& s) { return concurry::progress{s.options()}; }

private:
  std::latch started_{1};
  std::latch release_{1};
  concurry::pool<concurry_test::sleeper> sleepers_;
  concurry::pool<concurry_test::gate> gates_;
};

} // namespace

TEST_CASE_TEMPLATE("gather with progress counts each future and ends in success",
                   M,
                   CONCURRY_POOL_MODES) {
  pool_calls calls{M::value};
  screen s{progress_style::plain};
  std::vector fs{calls.doubled(1), calls.doubled(2), calls.doubled(3)};
  auto opts = s.options();
  opts.description.clear();
  CHECK(concurry::gather(fs, concurry::progress{opts}) == std::vector{2, 4, 6});
  CHECK(contains(s.last_line(), "Gathering: 100%|"));
  CHECK(contains(s.last_line(), "3/3"));
  CHECK(contains(s.last_line(), "] done"));
}

TEST_CASE_TEMPLATE("gather with progress ends in failure when it rethrows a future's exception",
                   M,
                   CONCURRY_POOL_MODES) {
  pool_calls calls{M::value};
  screen s{progress_style::plain};
  std::vector fs{calls.doubled(1), calls.doubled(-1)};
  CHECK_THROWS_AS(concurry::gather(fs, calls.bar_on(s)), std::invalid_argument);
  CHECK(contains(s.last_line(), "2/2"));
  CHECK(contains(s.last_line(), "] failed"));
  auto out = concurry::gather(fs, concurry::return_exceptions, calls.bar_on(s));
  CHECK_FALSE(out[1].has_value());
  CHECK(contains(s.last_line(), "] done"));
}

TEST_CASE_TEMPLATE("wait with progress ends stopped when the deadline passes",
                   M,
                   CONCURRY_POOL_MODES) {
  pool_calls calls{M::value};
  screen s{progress_style::plain};
  std::vector fs{calls.held(), calls.doubled(1)};
  fs[1].wait();
  auto r = concurry::wait(fs, concurry::return_when::all_completed, 50ms, calls.bar_on(s));
  CHECK(r.not_done == std::vector<std::size_t>{0});
  CHECK(contains(s.last_line(), "Reading:  50%|"));
  CHECK(contains(s.last_line(), "] stopped"));
}

TEST_CASE_TEMPLATE("wait with progress ends in success once its condition holds",
                   M,
                   CONCURRY_POOL_MODES) {
  pool_calls calls{M::value};
  screen s{progress_style::plain};
  std::vector fs{calls.doubled(1), calls.doubled(2)};
  auto r = concurry::wait(fs, concurry::return_when::first_completed, calls.bar_on(s));
  CHECK_FALSE(r.done.empty());
  CHECK(contains(s.last_line(), "] done"));
  r = concurry::wait(fs, calls.bar_on(s));
  CHECK(r.done.size() == 2);
  CHECK(contains(s.last_line(), "2/2"));
  CHECK(contains(s.last_line(), "] done"));
}

TEST_CASE_TEMPLATE("gather with a progress callback reports each completion once, counting up",
                   M,
                   CONCURRY_POOL_MODES) {
  pool_calls calls{M::value};
  std::vector fs{calls.doubled(1), calls.doubled(2), calls.doubled(3)};
  std::vector<std::pair<std::size_t, std::size_t>> seen;
  concurry::progress report{[&](std::size_t completed,
                                std::size_t total,
                                std::chrono::nanoseconds) { seen.emplace_back(completed, total); }};
  concurry::gather(fs, 1h, report);
  CHECK(seen == std::vector<std::pair<std::size_t, std::size_t>>{{1, 3}, {2, 3}, {3, 3}});
}

TEST_CASE("a progress option is off by default, and on for true or bar options") {
  CHECK_FALSE(concurry::progress{}.is_enabled());
  CHECK_FALSE(concurry::progress{false}.is_enabled());
  CHECK(concurry::progress{true}.is_enabled());
  CHECK(concurry::progress{progress_bar::options{}}.is_enabled());
}

TEST_CASE("track takes its progress bar options as designated initializers") {
  std::vector<int> items{1, 2};
  int n = 0;
  for (int x : concurry::track(items, {.description = "Summing", .disable = true}))
    n += x;
  CHECK(n == 3);
}
