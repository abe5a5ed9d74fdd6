#include <concurry/progress.hpp>

#include <concurry/error.hpp>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>

namespace concurry {

namespace {

using seconds_f = std::chrono::duration<double>;

std::uint64_t checked_miniters(std::uint64_t miniters) {
  if (miniters < 1)
    throw config_error{"progress_bar: miniters must be at least 1"};
  return miniters;
}

/// The file descriptor behind one of the standard streams, or -1 for any other stream.
int descriptor_of(const std::ostream* out) {
  if (out == &std::cerr || out == &std::clog)
    return STDERR_FILENO;
  if (out == &std::cout)
    return STDOUT_FILENO;
  return -1;
}

/// Whether a bar with `opts` writing to `out` redraws in place.
bool draws_in_place(const progress_bar::options& opts, const std::ostream* out) {
  if (opts.style != progress_style::automatic)
    return opts.style == progress_style::terminal;
  int fd = descriptor_of(out);
  return fd >= 0 && ::isatty(fd) == 1;
}

bool is_no_color_set() {
  const char* value = std::getenv("NO_COLOR");
  return value != nullptr && *value != '\0';
}

/// `count` as a share of `total` in whole units of 1/`parts`, without overflowing.
std::uint64_t share_of(std::uint64_t count, std::uint64_t total, std::uint64_t parts) {
  if (total == 0)
    return parts;
  if (count <= ~std::uint64_t{0} / parts)
    return count * parts / total;
  return static_cast<std::uint64_t>(static_cast<long double>(count) * parts / total);
}

/// The tenth of the total that a plain bar marks with a line: 1 to 9. The whole is left to the
/// final line, which follows soon in a loop that ends.
unsigned tenth_of(std::uint64_t count, std::uint64_t total) {
  return static_cast<unsigned>(std::min<std::uint64_t>(share_of(count, total, 10), 9));
}

std::string two_digits(long long n) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02lld", n % 100);
  return buf;
}

/// `mm:ss`, or `h:mm:ss` from an hour on.
std::string format_time(long long seconds) {
  seconds = std::max(seconds, 0LL);
  auto hours = seconds / 3600;
  auto rest = two_digits(seconds / 60 % 60) + ":" + two_digits(seconds % 60);
  return hours > 0 ? std::to_string(hours) + ":" + rest : rest;
}

std::string one_decimal(double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", value);
  return buf;
}

/// `12.3 it/s`, `4.6k it/s`, `1.2M it/s`; `2.5 s/it` below one unit per second.
std::string format_rate(std::uint64_t count, double seconds, const std::string& unit) {
  if (seconds <= 0 || count == 0)
    return "? " + unit + "/s";
  double rate = static_cast<double>(count) / seconds;
  if (rate < 1)
    return one_decimal(1 / rate) + " s/" + unit;
  static constexpr const char* suffixes[] = {"", "k", "M", "G", "T"};
  std::size_t i = 0;
  // 999.95 and up would print as 1000.0 with one decimal.
  for (; rate >= 999.95 && i + 1 < std::size(suffixes); ++i)
    rate /= 1000;
  return one_decimal(rate) + suffixes[i] + " " + unit + "/s";
}

/// Columns a UTF-8 string takes, counting one per code point.
std::size_t columns(const std::string& s) {
  return static_cast<std::size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

/// `s` cut to at most `n` columns, at a code point boundary.
std::string truncated(const std::string& s, std::size_t n) {
  std::size_t seen = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if ((s[i] & 0xC0) != 0x80 && seen++ == n)
      return s.substr(0, i);
  }
  return s;
}

const char* state_word(progress_state state) {
  switch (state) {
  case progress_state::success:
    return "done";
  case progress_state::failure:
    return "failed";
  case progress_state::stopped:
    return "stopped";
  case progress_state::running:
    break;
  }
  return "";
}

/// SGR colours: green, red, bright black (grey).
const char* state_color(progress_state state) {
  switch (state) {
  case progress_state::success:
    return "\x1b[32m";
  case progress_state::failure:
    return "\x1b[31m";
  case progress_state::stopped:
    return "\x1b[90m";
  case progress_state::running:
    break;
  }
  return "";
}

} // namespace

progress_bar::progress_bar() : progress_bar(options{}) {}

progress_bar::progress_bar(options opts)
    : clock_{opts.clock ? std::move(opts.clock) : system_clock()},
      out_{opts.out ? opts.out : &std::cerr}, miniters_{checked_miniters(opts.miniters)},
      ncols_{opts.ncols}, min_interval_{opts.min_interval}, plain_interval_{opts.plain_interval},
      unit_{std::move(opts.unit)}, disabled_{opts.disable}, terminal_{draws_in_place(opts, out_)},
      color_{opts.color && terminal_ && !is_no_color_set()}, start_{clock_->now()},
      uncaught_at_start_{std::uncaught_exceptions()}, total_{opts.total.value_or(no_total)},
      next_line_at_{(start_ + plain_interval_).time_since_epoch().count()} {
  description_ = std::move(opts.description);
  // A terminal shows the bar from the start; plain output waits until there is news.
  if (terminal_ && !disabled_) {
    std::lock_guard lock{mutex_};
    draw(start_);
  }
}

progress_bar::~progress_bar() {
  if (state() != progress_state::running)
    return;
  if (std::uncaught_exceptions() > uncaught_at_start_) {
    finish(progress_state::failure, {});
    return;
  }
  auto total = total_.load();
  bool complete = total != no_total && count_.load() >= total;
  finish(complete ? progress_state::success : progress_state::stopped, {});
}

void progress_bar::update(std::uint64_t n) {
  auto count = count_.fetch_add(n, std::memory_order_relaxed) + n;
  if (disabled_ || state_.load(std::memory_order_relaxed) != progress_state::running)
    return;
  auto drawn = drawn_count_.load(std::memory_order_relaxed);
  if (count < drawn || count - drawn < miniters_)
    return;
  auto now = clock_->now();
  if (!is_due(count, now))
    return;
  // Whoever holds the mutex is drawing the newest count already: no need to wait for it.
  std::unique_lock lock{mutex_, std::try_to_lock};
  if (lock && state_.load() == progress_state::running && is_due(count_.load(), now))
    draw(now);
}

void progress_bar::set_total(std::optional<std::uint64_t> total) {
  total_.store(total.value_or(no_total));
}

void progress_bar::set_description(std::string description) {
  std::lock_guard lock{mutex_};
  description_ = std::move(description);
}

void progress_bar::success(std::string description) {
  finish(progress_state::success, std::move(description));
}

void progress_bar::failure(std::string description) {
  finish(progress_state::failure, std::move(description));
}

void progress_bar::stop(std::string description) {
  finish(progress_state::stopped, std::move(description));
}

std::uint64_t progress_bar::count() const noexcept {
  return count_.load();
}

std::optional<std::uint64_t> progress_bar::total() const noexcept {
  auto total = total_.load();
  return total == no_total ? std::nullopt : std::optional{total};
}

progress_state progress_bar::state() const noexcept {
  return state_.load();
}

bool progress_bar::is_due(std::uint64_t count, clock::time_point now) const noexcept {
  auto now_rep = now.time_since_epoch().count();
  if (terminal_)
    return now_rep >= next_line_at_.load(std::memory_order_relaxed);
  auto total = total_.load(std::memory_order_relaxed);
  if (total != no_total && tenth_of(count, total) > drawn_tenth_.load(std::memory_order_relaxed))
    return true;
  return now_rep >= next_line_at_.load(std::memory_order_relaxed);
}

// Called with mutex_ held.
void progress_bar::draw(clock::time_point now) noexcept {
  try {
    auto count = count_.load();
    auto line = render(count, now, progress_state::running);
    write(terminal_ ? "\r" + line + "\x1b[K" : line + "\n");
    auto total = total_.load();
    drawn_count_.store(count);
    drawn_tenth_.store(total == no_total ? 0 : tenth_of(count, total));
    next_line_at_.store(
        (now + (terminal_ ? min_interval_ : plain_interval_)).time_since_epoch().count());
  } catch (...) {
    // A line that could not be made (out of memory) is skipped; the next one may work.
  }
}

void progress_bar::finish(progress_state state, std::string description) noexcept {
  try {
    std::lock_guard lock{mutex_};
    auto running = progress_state::running;
    if (!state_.compare_exchange_strong(running, state))
      return;
    if (!description.empty())
      description_ = std::move(description);
    if (disabled_)
      return;
    auto line = render(count_.load(), clock_->now(), state);
    if (color_)
      line = state_color(state) + line + "\x1b[0m";
    write(terminal_ ? "\r" + line + "\x1b[K\n" : line + "\n");
  } catch (...) {
    // As in draw(): a progress bar never fails the program it reports on.
  }
}

std::string
progress_bar::render(std::uint64_t count, clock::time_point now, progress_state state) const {
  auto elapsed = std::max(now - start_, clock::time_point::duration::zero());
  auto seconds = std::chrono::duration_cast<seconds_f>(elapsed).count();
  auto total = total_.load();
  std::string prefix = description_.empty() ? "" : description_ + ": ";

  // The right part: [elapsed<left, rate] while running, [elapsed, rate] and the state after.
  std::string right =
      " [" + format_time(std::chrono::duration_cast<std::chrono::seconds>(elapsed).count());
  if (state == progress_state::running && total != no_total) {
    if (count >= total)
      right += "<" + format_time(0);
    else if (count == 0 || seconds <= 0)
      right += "<?";
    else
      right += "<" + format_time(std::llround(static_cast<double>(total - count) * seconds /
                                              static_cast<double>(count)));
  }
  right += ", " + format_rate(count, seconds, unit_) + "]";
  if (state != progress_state::running)
    right += std::string{" "} + state_word(state);
  if (total == no_total)
    return prefix + std::to_string(count) + " " + unit_ + right;

  // The left part: percentage, bar, count/total; the bar gets the columns left over.
  auto percent = std::to_string(share_of(count, total, 100));
  percent = std::string(percent.size() < 3 ? 3 - percent.size() : 0, ' ') + percent + "%";
  auto counts = " " + std::to_string(count) + "/" + std::to_string(total);
  auto used = columns(prefix) + percent.size() + counts.size() + right.size() + 2;
  std::string line;
  if (ncols_ > used) {
    auto width = ncols_ - used;
    auto filled = std::min<std::uint64_t>(share_of(count, total, width), width);
    line = prefix + percent + "|" + std::string(filled, '#') + std::string(width - filled, ' ') +
           "|" + counts + right;
  } else {
    line = prefix + percent + counts + right;
  }
  // A line wider than the terminal would wrap, and \r would then redraw only its last part.
  return terminal_ && columns(line) > ncols_ ? truncated(line, ncols_) : line;
}

void progress_bar::write(const std::string& text) noexcept {
  try {
    *out_ << text << std::flush;
  } catch (...) {
    // An output stream that throws (exceptions() set) loses the line, nothing more.
  }
}

namespace detail {

progress_reporter::progress_reporter(const progress& shown,
                                     std::size_t total,
                                     const char* description)
    : total_{total}, callback_{shown.callback_} {
  if (shown.bar_) {
    auto opts = *shown.bar_;
    if (opts.description.empty())
      opts.description = description;
    opts.total = total;
    if (shown.default_miniters_)
      opts.miniters = std::max<std::uint64_t>(1, total / 100);
    clock_ = opts.clock;
    bar_ = std::make_unique<progress_bar>(std::move(opts));
  }
  if (!clock_)
    clock_ = system_clock();
  start_ = clock_->now();
}

void progress_reporter::completed() noexcept {
  try {
    if (bar_)
      bar_->update(1);
    if (!callback_)
      return;
    std::lock_guard lock{mutex_};
    if (finished_)
      return;
    ++completed_;
    callback_(completed_, total_, clock_->now() - start_);
  } catch (...) {
    // The callback's exception has nobody to go to (see progress's constructor).
  }
}

void progress_reporter::finish(progress_state state) noexcept {
  {
    std::lock_guard lock{mutex_};
    finished_ = true;
  }
  if (!bar_)
    return;
  if (state == progress_state::success)
    bar_->success();
  else if (state == progress_state::failure)
    bar_->failure();
  else
    bar_->stop();
}

std::shared_ptr<progress_reporter>
make_progress_reporter(const progress& shown, std::size_t total, const char* description) {
  if (!shown.is_enabled())
    return nullptr;
  return std::make_shared<progress_reporter>(shown, total, description);
}

} // namespace detail

} // namespace concurry
