// Progress bars for people watching a long run: concurry::progress_bar, counted by `update(n)`
// from any thread; concurry::track, which wraps a range and counts its items; and
// concurry::progress, the option with which `wait` and `gather` (wait.hpp) report theirs.
#pragma once

#include <concurry/clock.hpp>

#include <atomic>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <ranges>
#include <string>
#include <type_traits>
#include <utility>

namespace concurry {

/// How a progress bar writes its lines.
enum class progress_style {
  /// `terminal` when the stream is std::cerr, std::clog or std::cout and its file descriptor is
  /// a terminal; `plain` otherwise.
  automatic,
  /// One line redrawn in place with a carriage return, the rest of the line cleared each time.
  terminal,
  /// Whole lines, now and then: at each tenth of the total, and at most every `plain_interval`
  /// otherwise; never a carriage return or an escape sequence. For logs and pipes.
  plain,
};

/// Where a progress bar is: still counting, or ended in one of three final states.
enum class progress_state {
  /// Counting; not ended yet.
  running,
  /// Ended well: the work is complete (green on a terminal).
  success,
  /// Ended by an error (red on a terminal).
  failure,
  /// Ended before the work was complete, without an error: a timeout, a break (grey).
  stopped,
};

/// A terminal progress bar in the spirit of tqdm: counts work with `update(n)` and shows the
/// count, the total and its percentage, a bar, the rate, the time elapsed and the time left.
///
/// A line looks like `Reading:  42%|########          | 42/100 [00:03<00:04, 12.3 it/s]`; without
/// a total, `Reading: 42 it [00:03, 12.3 it/s]`. The rate is the average since the bar was
/// made (k, M and G suffixes; `s/it` below one per second) and the time left assumes it holds.
/// The final line ends in `done`, `failed` or `stopped`, and is printed exactly once.
///
/// On a terminal the bar redraws in place at most every `min_interval`, coloured by its final
/// state (unless `color` is off or the NO_COLOR environment variable is set). Elsewhere it
/// prints sparse plain lines (see progress_style::plain) and the final line, without colour. A
/// disabled bar counts but prints nothing.
///
/// Thread-safe: `update` may be called from many threads at once (worker callbacks), and costs
/// an atomic add and a clock read; the redraw happens under a mutex, by whichever caller finds
/// it due, while the others go on without waiting. Output errors are ignored.
///
/// The destructor ends a bar still running: as `failure` when it runs during stack unwinding
/// (more uncaught exceptions than when the bar was made, on the destroying thread), else as
/// `success` when the count reached a known total, else as `stopped`.
///
/// Does not: query the terminal's width (the line is `ncols` wide), smooth the rate, draw
/// anything between updates (the elapsed time shown moves only when the count does), or keep
/// other output from breaking into its line.
class progress_bar {
public:
  /// The settings of a bar; every field has a default (and an initializer, so that designated
  /// initializers may leave any out without a -Wmissing-field-initializers warning).
  struct options {
    /// Printed before the count, followed by a colon; may be empty.
    std::string description{};
    /// How many units make the work complete; none when unknown (no percentage, bar or ETA).
    std::optional<std::uint64_t> total{};
    /// The name of one unit of work, as in `12.3 it/s`.
    std::string unit = "it";
    /// The width of a line in columns; the bar takes what the text leaves of it.
    std::size_t ncols = 100;
    /// On a terminal, the shortest time between two redraws.
    std::chrono::nanoseconds min_interval = std::chrono::milliseconds{100};
    /// In plain style, the longest time without a line while the count moves.
    std::chrono::nanoseconds plain_interval = std::chrono::seconds{10};
    /// How many units must accumulate before an update considers redrawing; at least 1, or
    /// the constructor throws `config_error`.
    std::uint64_t miniters = 1;
    /// When true the bar prints nothing at all, its final line included.
    bool disable = false;
    /// Where the lines go; null means std::cerr. Must outlive the bar's last line.
    std::ostream* out = nullptr;
    /// How to draw; `automatic` looks at the stream. Tests force `terminal` or `plain`.
    progress_style style = progress_style::automatic;
    /// Whether a terminal bar may colour its final line; NO_COLOR turns it off too.
    bool color = true;
    /// The time source; null means `system_clock()`. Tests pass a `manual_clock`.
    std::shared_ptr<concurry::clock> clock{};
  };

  /// A bar with default options: no description, no total, on std::cerr.
  progress_bar();

  /// A bar with `opts`; starts counting at 0 and, on a terminal, draws itself at once. Throws
  /// `config_error` when `opts.miniters` is 0.
  explicit progress_bar(options opts);

  progress_bar(const progress_bar&) = delete;
  progress_bar& operator=(const progress_bar&) = delete;

  /// Ends the bar if it is still running; see the class comment for which state it gets.
  ~progress_bar();

  /// Adds `n` units done, and redraws when `miniters` units accumulated since the last line and
  /// a line is due. Any thread. After a final state it only counts.
  void update(std::uint64_t n = 1);

  /// Changes the total (none: unknown); shown from the next line on.
  void set_total(std::optional<std::uint64_t> total);

  /// Changes the description; shown from the next line on.
  void set_description(std::string description);

  /// Ends the bar as complete and prints its final line, with `description` when not empty.
  /// Does nothing when the bar has already ended.
  void success(std::string description = {});

  /// As `success`, ending the bar as failed.
  void failure(std::string description = {});

  /// As `success`, ending the bar as stopped before completion.
  void stop(std::string description = {});

  /// The units counted so far.
  [[nodiscard]] std::uint64_t count() const noexcept;

  /// The total, or none when unknown.
  [[nodiscard]] std::optional<std::uint64_t> total() const noexcept;

  /// Running, or the final state the bar ended in.
  [[nodiscard]] progress_state state() const noexcept;

  /// True when the bar draws in place (terminal style, resolved from `automatic`).
  [[nodiscard]] bool is_terminal() const noexcept { return terminal_; }

private:
  // total_ holds this when there is none.
  static constexpr std::uint64_t no_total = ~std::uint64_t{0};

  [[nodiscard]] bool is_due(std::uint64_t count, clock::time_point now) const noexcept;
  void draw(clock::time_point now) noexcept;
  void finish(progress_state state, std::string description) noexcept;
  [[nodiscard]] std::string
  render(std::uint64_t count, clock::time_point now, progress_state state) const;
  void write(const std::string& text) noexcept;

  std::shared_ptr<concurry::clock> clock_;
  std::ostream* out_;
  const std::uint64_t miniters_;
  const std::size_t ncols_;
  const std::chrono::nanoseconds min_interval_;
  const std::chrono::nanoseconds plain_interval_;
  const std::string unit_;
  const bool disabled_;
  const bool terminal_;
  const bool color_;
  const clock::time_point start_;
  const int uncaught_at_start_;

  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> total_;
  std::atomic<progress_state> state_{progress_state::running};
  // What the last line showed, and when the next may come: read without the mutex by update().
  std::atomic<std::uint64_t> drawn_count_{0};
  std::atomic<unsigned> drawn_tenth_{0};
  std::atomic<clock::time_point::rep> next_line_at_;

  std::mutex mutex_;
  std::string description_;
};

/// A range wrapped by `track`: iterates the range and counts each item on a progress bar.
///
/// The bar counts an item once the loop body is done with it (when the iterator advances past
/// it), ends in success when iteration reaches the end, and otherwise ends when the wrapper is
/// destroyed: as failure when the loop left by an exception, as stopped after a `break`. The
/// total is the range's size when it has one and `options::total` was not given. Iterate it
/// once, from one thread.
///
/// Does not: copy an lvalue range (it refers to it, which must outlive the wrapper), or count
/// items that the loop skipped over by other means than advancing.
template <class Range>
class tracked_range {
public:
  /// The wrapped range's iterator, over a modifiable or const range as it was given.
  using base_iterator = std::ranges::iterator_t<std::remove_reference_t<Range>&>;
  /// The wrapped range's end.
  using base_sentinel = std::ranges::sentinel_t<std::remove_reference_t<Range>&>;

  /// Wraps `range` (referred to when an lvalue, moved in otherwise) with a bar of `opts`.
  tracked_range(Range&& range, progress_bar::options opts)
      : range_{std::forward<Range>(range)}, end_{std::ranges::end(range_)}, bar_{with_size(opts)} {}

  /// The end of iteration.
  struct sentinel {};

  /// An input iterator that counts each step on the bar.
  class iterator {
  public:
    /// Iterator traits of an input iterator.
    using iterator_category = std::input_iterator_tag;
    /// The wrapped range's value type.
    using value_type = std::iter_value_t<base_iterator>;
    /// The wrapped range's difference type.
    using difference_type = std::iter_difference_t<base_iterator>;

    /// The current item, as the wrapped iterator gives it.
    decltype(auto) operator*() const { return *it_; }

    /// Counts the current item as done and moves on; at the end, ends the bar in success.
    iterator& operator++() {
      ++it_;
      owner_->bar_.update(1);
      if (is_at_end())
        owner_->bar_.success();
      return *this;
    }

    /// As the prefix form.
    void operator++(int) { ++*this; }

    /// True once every item was taken.
    friend bool operator==(const iterator& it, sentinel) { return it.is_at_end(); }

  private:
    friend class tracked_range;
    iterator(tracked_range* owner, base_iterator it) : owner_{owner}, it_{std::move(it)} {}

    bool is_at_end() const { return it_ == owner_->end_; }

    tracked_range* owner_;
    base_iterator it_;
  };

  /// Starts iterating; an empty range ends the bar in success at once.
  iterator begin() {
    iterator it{this, std::ranges::begin(range_)};
    if (it == sentinel{})
      bar_.success();
    return it;
  }

  /// The end of iteration.
  sentinel end() const noexcept { return {}; }

  /// The bar, to change its description or end it otherwise.
  progress_bar& bar() noexcept { return bar_; }

private:
  progress_bar::options with_size(progress_bar::options opts) {
    if constexpr (std::ranges::sized_range<std::remove_reference_t<Range>&>) {
      if (!opts.total)
        opts.total = static_cast<std::uint64_t>(std::ranges::size(range_));
    }
    return opts;
  }

  Range range_;
  base_sentinel end_;
  progress_bar bar_;
};

/// Wraps `range` for a range-for that shows its progress:
/// `for (auto& x : concurry::track(items, {.description = "Reading"}))`. An lvalue range is
/// referred to, an rvalue one moved into the wrapper. See `tracked_range`.
template <class Range>
requires std::ranges::input_range<Range>
[[nodiscard]] tracked_range<Range> track(Range&& range, progress_bar::options opts = {}) {
  return tracked_range<Range>{std::forward<Range>(range), std::move(opts)};
}

namespace detail {
class progress_reporter;
} // namespace detail

/// How `wait` and `gather` report their progress as the futures finish: not at all (the
/// default), on a progress bar, or to a callback.
///
/// The report is driven by the futures' done callbacks, so it adds no polling. A bar counts one
/// unit per future that finishes, with the number of futures as its total; it ends in success
/// when the call returns, in failure when `gather` rethrows a future's exception, and stopped
/// when the deadline passed (`wait` returning the partial sets, `gather` throwing
/// `timeout_error`).
///
/// Does not: report anything for futures that finish after the call returned.
class progress {
public:
  /// What a callback gets: how many futures finished so far, how many there are, and the time
  /// since the call began.
  using callback = std::function<void(
      std::size_t completed, std::size_t total, std::chrono::nanoseconds elapsed)>;

  /// No report.
  progress() = default;

  /// A bar with the default options when `show` is true, described "Waiting" by `wait` and
  /// "Gathering" by `gather`, on std::cerr, considering a redraw every hundredth of the
  /// futures; no report when false.
  template <class Bool>
  requires std::same_as<Bool, bool>
  explicit progress(Bool show)
      : bar_{show ? std::optional<progress_bar::options>{std::in_place} : std::nullopt},
        default_miniters_{true} {}

  /// A bar with `bar`; an empty description becomes "Waiting" or "Gathering", and the total is
  /// always the number of futures.
  explicit progress(progress_bar::options bar) : bar_{std::move(bar)} {}

  /// Calls `fn(completed, total, elapsed)` once per future that finishes, on the thread that
  /// finished it (a worker's, or the caller's for a future already done), one call at a time,
  /// `completed` counting up by one. Never after the call returned. An exception escaping
  /// `fn` is dropped.
  template <class F>
  requires std::is_invocable_v<F&, std::size_t, std::size_t, std::chrono::nanoseconds>
  explicit progress(F fn) : callback_{std::move(fn)} {}

  /// True when there is something to report to.
  [[nodiscard]] bool is_enabled() const noexcept { return bar_.has_value() || callback_; }

private:
  friend class detail::progress_reporter;

  std::optional<progress_bar::options> bar_;
  // progress{true}: miniters follows the number of futures.
  bool default_miniters_ = false;
  callback callback_;
};

namespace detail {

/// What one `wait` or `gather` reports to, fed from the futures' done callbacks. Thread-safe.
class progress_reporter {
public:
  /// A report of `shown` over `total` futures; `description` when the bar options have none.
  progress_reporter(const progress& shown, std::size_t total, const char* description);

  /// One more future finished. Does nothing after `finish`.
  void completed() noexcept;

  /// The call returns or throws: ends the bar in `state`; later completions are ignored.
  void finish(progress_state state) noexcept;

private:
  std::mutex mutex_;
  bool finished_ = false;
  std::size_t completed_ = 0;
  const std::size_t total_;
  progress::callback callback_;
  std::shared_ptr<concurry::clock> clock_;
  clock::time_point start_;
  std::unique_ptr<progress_bar> bar_;
};

/// The reporter for `shown`, or null when it reports nothing.
std::shared_ptr<progress_reporter>
make_progress_reporter(const progress& shown, std::size_t total, const char* description);

} // namespace detail

} // namespace concurry
