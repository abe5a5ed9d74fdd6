#include <concurry/config.hpp>
#include <concurry/limits.hpp>

#include "actors/limit_backend.hpp"
#include "runtime/internal/limit_algorithms.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>
#include <utility>

namespace concurry {

namespace detail {

enum class limit_kind { call, rate, resource };

// One limit of a set: what it is (fixed at construction) and what it has counted (guarded by
// the set's mutex).
struct limit_entry {
  limit_kind kind = limit_kind::call;
  std::string key;
  double capacity = 0;
  std::chrono::nanoseconds window{0};
  std::optional<rate_algorithm> algorithm;
  bool whole_units = true;
  std::unique_ptr<runtime_internal::limit_algorithm> counter;
  std::size_t waiting = 0; // queued requests that need this limit
};

// One limit of a request, by its index in the set.
struct request_item {
  std::size_t entry;
  double amount;
};

using done_fn = std::function<void(acquisition, std::exception_ptr)>;

struct waiter {
  std::vector<request_item> items;
  amounts requested;
  std::optional<clock::timer_id> deadline;
  done_fn done;
};

// A decision taken under the lock, delivered after it is dropped.
struct completion {
  done_fn done;
  acquisition granted;
  std::exception_ptr error;
};

struct limit_set_state : std::enable_shared_from_this<limit_set_state> {
  limit_set_state(std::vector<limit> l, std::shared_ptr<concurry::clock> c);
  ~limit_set_state();

  const std::vector<limit> limits;
  const std::shared_ptr<concurry::clock> clock;
  std::map<std::string, std::size_t, std::less<>> index; // key -> entry
  std::mutex mutex;
  std::vector<limit_entry> entries;
  // Ids grow with arrival, so the map's order is the queue's.
  std::map<std::uint64_t, waiter> waiters;
  std::uint64_t next_waiter = 1;
  std::optional<clock::timer_id> wake_timer;
  clock::time_point wake_at;
  std::uint64_t wake_generation = 0;
  // Set when the state lives elsewhere (a limit actor in another process): requests go there,
  // and `entries` only serve to check them.
  std::shared_ptr<limit_backend> remote;
};

struct acquisition_access {
  static acquisition make(std::shared_ptr<limit_set_state> state,
                          amounts requested,
                          bool successful,
                          std::uint64_t grant = 0) {
    acquisition a;
    a.state_ = std::move(state);
    a.requested_ = std::move(requested);
    a.successful_ = successful;
    a.grant_ = grant;
    return a;
  }
  /// A request made inside a coroutine, to be co_awaited.
  static acquisition pending(std::shared_ptr<pending_grant> p) {
    acquisition a;
    a.pending_ = std::move(p);
    return a;
  }
};

struct limit_pool_state {
  std::vector<limit_set> sets;
  load_balancing lb = load_balancing::round_robin;
  std::size_t offset = 0;
  std::atomic<std::size_t> next{0};
  std::mutex rng_mutex;
  std::mt19937_64 rng{std::random_device{}()};
};

} // namespace detail

namespace {

using detail::completion;
using detail::limit_entry;
using detail::limit_kind;
using detail::limit_set_state;
using detail::request_item;
using runtime_internal::limit_algorithm;
using time_point = clock::time_point;
using std::chrono::nanoseconds;

// A function, so that a call_limit made during static initialisation elsewhere finds it.
const std::string& call_count_key() {
  static const std::string key{"call_count"};
  return key;
}

std::string lower(std::string_view s) {
  std::string out{s};
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
    return static_cast<char>(std::tolower(c));
  });
  return out;
}

std::string format_number(double x) {
  std::ostringstream os;
  os.precision(10);
  os << x;
  return os.str();
}

std::string format_seconds(nanoseconds d) {
  return format_number(std::chrono::duration<double>(d).count()) + " s";
}

void check_window(nanoseconds window) {
  if (window.count() <= 0)
    throw config_error{"a limit's window must be positive, got " + format_seconds(window)};
}

void check_capacity(double capacity, std::string_view what) {
  if (!(capacity > 0))
    throw config_error{"the capacity of " + std::string{what} + " must be positive, got " +
                       format_number(capacity)};
}

std::string check_key(std::string key) {
  if (key.empty())
    throw config_error{"a limit's key must not be empty"};
  return key;
}

bool is_whole(double x) {
  return std::floor(x) == x;
}

// What a limit of any kind looks like to its set.
limit_entry describe(const limit& l, time_point now) {
  limit_entry e;
  if (auto* c = std::get_if<call_limit>(&l)) {
    e.kind = limit_kind::call;
    e.key = c->key();
    e.capacity = c->capacity();
    e.window = c->window();
    e.algorithm = c->algorithm();
  } else if (auto* r = std::get_if<rate_limit>(&l)) {
    e.kind = limit_kind::rate;
    e.key = r->key();
    e.capacity = r->capacity();
    e.window = r->window();
    e.algorithm = r->algorithm();
  } else {
    auto& res = std::get<resource_limit>(l);
    e.kind = limit_kind::resource;
    e.key = res.key();
    e.capacity = res.capacity();
  }
  e.whole_units = !e.algorithm || runtime_internal::counts_whole_units(*e.algorithm);
  if (std::isinf(e.capacity))
    e.counter = runtime_internal::make_unlimited_counter(/*holds_units=*/!e.algorithm);
  else if (e.algorithm)
    e.counter = runtime_internal::make_rate_algorithm(*e.algorithm, e.capacity, e.window, now);
  else
    e.counter = runtime_internal::make_resource_counter(e.capacity);
  return e;
}

std::string_view kind_name(limit_kind k) {
  switch (k) {
  case limit_kind::call:
    return "CallLimit";
  case limit_kind::rate:
    return "RateLimit";
  case limit_kind::resource:
    return "ResourceLimit";
  }
  return "unknown";
}

std::string key_list(const limit_set_state& s) {
  std::string keys;
  for (auto& e : s.entries)
    keys += (keys.empty() ? "'" : ", '") + e.key + "'";
  return keys.empty() ? "no limits" : keys;
}

// Throws config_error unless `amount` of `e` is something the limit could ever count. `what`
// says where the amount came from ("request", "usage").
void check_amount(const limit_entry& e, double amount, std::string_view what) {
  if (!(amount >= 0))
    throw config_error{"the " + std::string{what} + " amount for limit '" + e.key +
                       "' must be a non-negative number, got " + format_number(amount)};
  if (e.whole_units && !std::isinf(amount) && !is_whole(amount)) {
    auto how = e.algorithm ? "uses the " + std::string{to_string(*e.algorithm)} + " algorithm"
                           : std::string{"is a resource limit"};
    throw config_error{"limit '" + e.key + "' " + how + ", which counts whole units; the " +
                       std::string{what} + " amount " + format_number(amount) +
                       " is not a whole number"};
  }
}

bool is_noop(const limit_set_state* s) {
  return s == nullptr || s->entries.empty();
}

bool is_remote(const limit_set_state& s) {
  return s.remote && !s.entries.empty();
}

} // namespace

namespace detail {
/// A request whose grant is still to come: waited for by a thread, or co_awaited.
struct pending_grant {
  std::mutex mutex;
  std::condition_variable signal;
  bool done = false;
  acquisition granted;
  std::exception_ptr error;
  // The coroutine suspended on it, if any.
  suspension_ptr waiter;
  // Counted against its coroutine until co_awaited.
  bool unawaited = false;
  // Takes the request out of its set's queue while it waits (local sets only).
  std::function<void()> withdraw;

  /// The shell that would have taken the grant is gone: a request still queued leaves the
  /// queue, so it neither holds up others nor takes what it no longer needs.
  void drop() noexcept {
    std::function<void()> w;
    {
      std::lock_guard lock{mutex};
      if (!done)
        w = std::move(withdraw);
    }
    if (w)
      w();
  }

  void complete(acquisition a, std::exception_ptr e) {
    suspension_ptr w;
    {
      std::lock_guard lock{mutex};
      granted = std::move(a);
      error = std::move(e);
      done = true;
      w = std::move(waiter);
      signal.notify_all();
    }
    if (w)
      w->wake();
  }
};

bool acquisition_ready(const acquisition& shell) {
  if (!shell.pending_)
    return true;
  std::lock_guard lock{shell.pending_->mutex};
  return shell.pending_->done;
}

bool acquisition_wait(acquisition& shell, std::coroutine_handle<> h, suspension_ptr& waiting) {
  auto& p = *shell.pending_;
  std::lock_guard lock{p.mutex};
  if (p.done)
    return false;
  waiting = suspend(h);
  p.waiter = waiting;
  return true;
}

acquisition acquisition_take(acquisition& shell) {
  auto p = std::move(shell.pending_);
  if (!p)
    return std::move(shell);
  std::lock_guard lock{p->mutex};
  if (!p->done)
    throw error{"an acquisition was taken before its limits answered"};
  if (p->error)
    std::rethrow_exception(p->error);
  return std::move(p->granted);
}

void acquisition_awaited(acquisition& shell) noexcept {
  if (!shell.pending_)
    return;
  std::lock_guard lock{shell.pending_->mutex};
  if (std::exchange(shell.pending_->unawaited, false))
    count_unawaited_acquisition(-1);
}
} // namespace detail

namespace {

// Starts an acquisition through `start(done, withdraw)` and waits for `done`. With `defer`,
// inside a coroutine on a shared loop (an asyncio worker's) a request that cannot be granted at
// once does not wait: it is returned un-granted, for the coroutine to co_await (and `withdraw`,
// which `start` may set, takes it out of its queue should the coroutine be cancelled first). A
// request granted at once is returned granted, and a coroutine on a loop of its own waits as a
// plain call does: so an acquire in a plain function that a coroutine calls holds its limits.
template <class Start>
acquisition await(Start start, bool defer) {
  auto pending = std::make_shared<detail::pending_grant>();
  std::function<void()> withdraw;
  start([pending](acquisition a,
                  std::exception_ptr e) { pending->complete(std::move(a), std::move(e)); },
        &withdraw);
  bool decided = false;
  {
    std::lock_guard lock{pending->mutex};
    decided = pending->done;
    if (!decided)
      pending->withdraw = std::move(withdraw);
  }
  if (!decided && defer && detail::on_shared_loop()) {
    pending->unawaited = true;
    detail::count_unawaited_acquisition(1);
    return detail::acquisition_access::pending(std::move(pending));
  }
  std::unique_lock lock{pending->mutex};
  pending->signal.wait(lock, [&] { return pending->done; });
  if (pending->error)
    std::rethrow_exception(pending->error);
  return std::move(pending->granted);
}

// Asks the set's remote owner for `requested` (already checked here, which gave `granted`);
// `done` gets the acquisition as a local set would give it.
void ask_remote(const std::shared_ptr<limit_set_state>& s,
                const amounts& requested,
                amounts granted,
                std::optional<nanoseconds> timeout,
                bool try_only,
                detail::done_fn done) {
  s->remote->acquire(
      requested,
      timeout,
      try_only,
      [s, granted = std::move(granted), done = std::move(done)](
          std::optional<detail::limit_backend::grant> g, std::exception_ptr e) mutable {
        if (e)
          return done(acquisition{}, e);
        if (!g)
          return done(detail::acquisition_access::make(nullptr, std::move(granted), false),
                      nullptr);
        done(detail::acquisition_access::make(s, std::move(g->granted), true, g->id), nullptr);
      });
}

// Checks a request and lists what it takes from each limit: the named amounts, call and resource
// limits not named at 1. Fills `granted` with the same as amounts by key.
std::vector<request_item>
normalize(const limit_set_state& s, const amounts& requested, amounts& granted) {
  granted = requested;
  if (is_noop(&s))
    return {};
  for (auto& [key, amount] : requested)
    if (!s.index.contains(key))
      throw config_error{"the request names unknown limit key '" + key + "'; this limit set has " +
                         key_list(s)};
  std::vector<request_item> items;
  items.reserve(s.entries.size());
  for (std::size_t i = 0; i < s.entries.size(); ++i) {
    auto& e = s.entries[i];
    auto named = requested.find(e.key);
    // As in the Python library: a request that names nothing must not skip a rate limit (its
    // amount is unknown), but a request that names other keys simply leaves it alone.
    if (named == requested.end() && e.kind == limit_kind::rate) {
      if (requested.empty())
        throw config_error{"the request names no amount for rate limit '" + e.key +
                           "'; name one, as acquire({{\"" + e.key + "\", n}})"};
      continue;
    }
    auto amount = named == requested.end() ? 1.0 : named->second;
    check_amount(e, amount, "request");
    if (amount > e.capacity)
      throw config_error{"the request for " + format_number(amount) + " of limit '" + e.key +
                         "' exceeds its capacity of " + format_number(e.capacity) +
                         " and could never be granted"};
    granted.emplace(e.key, amount);
    // An amount of 0 takes nothing, so it neither waits for the limit nor holds others up.
    if (amount > 0)
      items.push_back({i, amount});
  }
  return items;
}

bool held_up_by_waiters(const limit_set_state& s, const std::vector<request_item>& items) {
  return std::any_of(items.begin(), items.end(), [&](const request_item& i) {
    return s.entries[i.entry].waiting;
  });
}

// The earliest time every limit of the request could take its amount; `never` when one of them
// waits for a release or refund.
time_point admit_time(limit_set_state& s, const std::vector<request_item>& items, time_point now) {
  auto at = now;
  for (auto& i : items)
    at = std::max(at, s.entries[i.entry].counter->admit_at(i.amount, now));
  return at;
}

void take_all(limit_set_state& s, const std::vector<request_item>& items, time_point now) {
  for (auto& i : items)
    s.entries[i.entry].counter->take(i.amount, now);
}

void count_waiting(limit_set_state& s, const std::vector<request_item>& items, bool queued) {
  for (auto& i : items) {
    auto& waiting = s.entries[i.entry].waiting;
    waiting = queued ? waiting + 1 : waiting - 1;
  }
}

void run(std::vector<completion>& ready) noexcept {
  for (auto& c : ready)
    c.done(std::move(c.granted), c.error);
  ready.clear();
}

void on_wake(const std::weak_ptr<limit_set_state>& weak, std::uint64_t generation);
void admit_waiters(limit_set_state& s, time_point now, std::vector<completion>& ready);

// Keeps one timer, at the earliest time a waiter at the front of its keys could be admitted.
void set_wake_timer(limit_set_state& s, time_point at) {
  if (s.wake_timer && s.wake_at == at)
    return;
  if (s.wake_timer) {
    s.clock->cancel(*s.wake_timer);
    s.wake_timer.reset();
  }
  if (at == limit_algorithm::never)
    return;
  auto generation = ++s.wake_generation;
  s.wake_at = at;
  s.wake_timer =
      s.clock->schedule(at, [weak = s.weak_from_this(), generation] { on_wake(weak, generation); });
}

// The admission pass: walks the queue in order and grants every waiter that fits all its limits
// and needs no key an earlier waiter still waits for. Then sets the wake timer for the rest.
void admit_waiters(limit_set_state& s, time_point now, std::vector<completion>& ready) {
  if (s.waiters.empty()) {
    set_wake_timer(s, limit_algorithm::never);
    return;
  }
  auto earliest = limit_algorithm::never;
  std::vector<char> blocked(s.entries.size(), 0);
  std::size_t blocked_count = 0;
  for (auto it = s.waiters.begin(); it != s.waiters.end() && blocked_count < s.entries.size();) {
    auto& w = it->second;
    if (!std::any_of(w.items.begin(), w.items.end(), [&](auto& i) { return blocked[i.entry]; })) {
      auto at = admit_time(s, w.items, now);
      if (at <= now) {
        take_all(s, w.items, now);
        count_waiting(s, w.items, /*queued=*/false);
        if (w.deadline)
          s.clock->cancel(*w.deadline);
        ready.push_back({std::move(w.done),
                         detail::acquisition_access::make(
                             s.shared_from_this(), std::move(w.requested), /*successful=*/true),
                         nullptr});
        it = s.waiters.erase(it);
        continue;
      }
      earliest = std::min(earliest, at);
    }
    for (auto& i : w.items)
      if (!blocked[i.entry]) {
        blocked[i.entry] = 1;
        ++blocked_count;
      }
    ++it;
  }
  set_wake_timer(s, earliest);
}

void on_wake(const std::weak_ptr<limit_set_state>& weak, std::uint64_t generation) {
  auto s = weak.lock();
  if (!s)
    return;
  std::vector<completion> ready;
  {
    std::lock_guard lock{s->mutex};
    // A timer that was replaced but could not be cancelled any more still runs the pass, which
    // is harmless; only the current one clears the record.
    if (generation == s->wake_generation)
      s->wake_timer.reset();
    admit_waiters(*s, s->clock->now(), ready);
  }
  run(ready);
}

// Ends waiter `id` with `error`, if it still waits, and admits whom it held up.
void end_waiter(const std::weak_ptr<limit_set_state>& weak,
                std::uint64_t id,
                std::exception_ptr error,
                bool from_deadline) {
  auto s = weak.lock();
  if (!s)
    return;
  std::vector<completion> ready;
  {
    std::lock_guard lock{s->mutex};
    auto it = s->waiters.find(id);
    if (it == s->waiters.end())
      return;
    count_waiting(*s, it->second.items, /*queued=*/false);
    if (!from_deadline && it->second.deadline)
      s->clock->cancel(*it->second.deadline);
    ready.push_back({std::move(it->second.done), acquisition{}, std::move(error)});
    s->waiters.erase(it);
    // The request that gave up may have held up later ones.
    admit_waiters(*s, s->clock->now(), ready);
  }
  run(ready);
}

void on_deadline(const std::weak_ptr<limit_set_state>& weak,
                 std::uint64_t id,
                 nanoseconds timeout) {
  end_waiter(weak,
             id,
             std::make_exception_ptr(
                 timeout_error{"could not acquire the limits within " + format_seconds(timeout)}),
             /*from_deadline=*/true);
}

// The validation every rate and call limit shares.
void check_rate(nanoseconds window, double capacity, std::string_view what) {
  check_window(window);
  check_capacity(capacity, what);
}

} // namespace

namespace detail {

limit_set_state::limit_set_state(std::vector<limit> l, std::shared_ptr<concurry::clock> c)
    : limits{std::move(l)}, clock{std::move(c)} {
  if (!clock)
    throw config_error{"a limit set needs a clock"};
  auto now = clock->now();
  entries.reserve(limits.size());
  for (auto& one : limits) {
    auto e = describe(one, now);
    if (!index.emplace(e.key, entries.size()).second)
      throw config_error{"duplicate limit key '" + e.key + "' in a limit set"};
    entries.push_back(std::move(e));
  }
}

limit_set_state::~limit_set_state() {
  if (wake_timer)
    clock->cancel(*wake_timer);
  for (auto& [id, w] : waiters) {
    if (w.deadline)
      clock->cancel(*w.deadline);
    w.done(acquisition{},
           std::make_exception_ptr(
               error{"the limit set was destroyed while the request waited for it"}));
  }
}

} // namespace detail

rate_algorithm parse_rate_algorithm(std::string_view name) {
  static constexpr std::array<std::pair<std::string_view, rate_algorithm>, 9> names{{
      {"token", rate_algorithm::token_bucket},
      {"token_bucket", rate_algorithm::token_bucket},
      {"leaky", rate_algorithm::leaky_bucket},
      {"leaky_bucket", rate_algorithm::leaky_bucket},
      {"sliding", rate_algorithm::sliding_window},
      {"sliding_window", rate_algorithm::sliding_window},
      {"fixed", rate_algorithm::fixed_window},
      {"fixed_window", rate_algorithm::fixed_window},
      {"gcra", rate_algorithm::gcra},
  }};
  auto key = lower(name);
  std::string valid;
  for (auto& [n, a] : names) {
    if (n == key)
      return a;
    valid += (valid.empty() ? "" : ", ") + std::string{n};
  }
  throw config_error{"unknown rate limit algorithm '" + std::string{name} +
                     "'; valid names are: " + valid};
}

std::string_view to_string(rate_algorithm a) noexcept {
  switch (a) {
  case rate_algorithm::token_bucket:
    return "token_bucket";
  case rate_algorithm::leaky_bucket:
    return "leaky_bucket";
  case rate_algorithm::sliding_window:
    return "sliding_window";
  case rate_algorithm::fixed_window:
    return "fixed_window";
  case rate_algorithm::gcra:
    return "gcra";
  }
  return "unknown";
}

std::chrono::nanoseconds parse_window(std::string_view name) {
  using namespace std::chrono;
  static const std::array<std::pair<std::string_view, nanoseconds>, 18> names{{
      {"second", seconds{1}},
      {"seconds", seconds{1}},
      {"sec", seconds{1}},
      {"secs", seconds{1}},
      {"minute", minutes{1}},
      {"minutes", minutes{1}},
      {"min", minutes{1}},
      {"mins", minutes{1}},
      {"hour", hours{1}},
      {"hours", hours{1}},
      {"hr", hours{1}},
      {"hrs", hours{1}},
      {"day", hours{24}},
      {"days", hours{24}},
      {"week", hours{24 * 7}},
      {"weeks", hours{24 * 7}},
      {"wk", hours{24 * 7}},
      {"wks", hours{24 * 7}},
  }};

  auto key = lower(name);
  if (key.starts_with("per_"))
    key.erase(0, 4);
  std::string valid;
  for (auto& [n, d] : names) {
    if (n == key)
      return d;
    valid += (valid.empty() ? "" : ", ") + std::string{n};
  }
  throw config_error{"unknown window '" + std::string{name} + "'; valid names are: " + valid +
                     " (each also with a per_ prefix)"};
}

call_limit::call_limit(std::chrono::nanoseconds window,
                       double capacity,
                       std::optional<rate_algorithm> algorithm)
    : window_{window}, capacity_{capacity}, algorithm_{
                                                algorithm.value_or(config().rate_limit_algorithm)} {
  check_rate(window_, capacity_, "call limit 'call_count'");
}

call_limit::call_limit(std::string_view window,
                       double capacity,
                       std::optional<rate_algorithm> algorithm)
    : call_limit{parse_window(window), capacity, algorithm} {}

const std::string& call_limit::key() const noexcept {
  return call_count_key();
}

rate_limit::rate_limit(std::string key,
                       std::chrono::nanoseconds window,
                       double capacity,
                       std::optional<rate_algorithm> algorithm)
    : key_{check_key(std::move(key))}, window_{window}, capacity_{capacity},
      algorithm_{algorithm.value_or(config().rate_limit_algorithm)} {
  check_rate(window_, capacity_, "rate limit '" + key_ + "'");
}

rate_limit::rate_limit(std::string key,
                       std::string_view window,
                       double capacity,
                       std::optional<rate_algorithm> algorithm)
    : rate_limit{std::move(key), parse_window(window), capacity, algorithm} {}

resource_limit::resource_limit(std::string key, double capacity)
    : key_{check_key(std::move(key))}, capacity_{capacity} {
  if (!(capacity_ >= 1) || (!std::isinf(capacity_) && !is_whole(capacity_)))
    throw config_error{"the capacity of resource limit '" + key_ +
                       "' must be a whole number >= 1 or unlimited, got " +
                       format_number(capacity_)};
}

acquisition::acquisition() noexcept = default;

acquisition::acquisition(acquisition&& other) noexcept
    : state_{std::move(other.state_)}, pending_{std::move(other.pending_)},
      requested_{std::move(other.requested_)}, used_{std::move(other.used_)}, grant_{std::exchange(
                                                                                  other.grant_, 0)},
      successful_{std::exchange(other.successful_, false)}, released_{std::exchange(other.released_,
                                                                                    false)} {}

acquisition& acquisition::operator=(acquisition&& other) noexcept {
  if (this != &other) {
    if (pending_)
      pending_->drop();
    release();
    state_ = std::move(other.state_);
    requested_ = std::move(other.requested_);
    pending_ = std::move(other.pending_);
    used_ = std::move(other.used_);
    grant_ = std::exchange(other.grant_, 0);
    successful_ = std::exchange(other.successful_, false);
    released_ = std::exchange(other.released_, false);
  }
  return *this;
}

acquisition::~acquisition() {
  if (pending_)
    pending_->drop();
  release();
}

void acquisition::update(const amounts& usage) {
  if (pending_)
    throw error{"update on an acquisition that was not co_awaited: inside a coroutine, write "
                "co_await limits().acquire(...)"};
  if (!successful_)
    throw error{"update on an acquisition that was not granted"};
  if (released_)
    throw error{"update on an acquisition that was already released"};
  // Check every key before recording any, so a bad update changes nothing.
  for (auto& [key, amount] : usage) {
    if (is_noop(state_.get())) {
      if (!(amount >= 0))
        throw config_error{"the usage amount for limit '" + key +
                           "' must be a non-negative number, got " + format_number(amount)};
      continue;
    }
    auto at = state_->index.find(key);
    if (at == state_->index.end())
      throw config_error{"the usage names unknown limit key '" + key + "'; this limit set has " +
                         key_list(*state_)};
    auto& e = state_->entries[at->second];
    if (e.kind == limit_kind::resource)
      throw config_error{"limit '" + key +
                         "' is a resource limit: its units are returned at release, it takes no "
                         "usage"};
    check_amount(e, amount, "usage");
  }
  for (auto& [key, amount] : usage)
    used_[key] = amount;
}

void acquisition::release() noexcept {
  if (!successful_ || released_)
    return;
  released_ = true;
  auto state = std::move(state_);
  if (is_noop(state.get()))
    return;
  if (is_remote(*state)) {
    // Without update() the owner counts what was requested, as a local set does.
    state->remote->release(grant_, used_.empty() ? std::nullopt : std::optional<amounts>{used_});
    return;
  }
  std::vector<completion> ready;
  {
    std::lock_guard lock{state->mutex};
    auto now = state->clock->now();
    for (auto& [key, amount] : requested_) {
      auto& e = state->entries[state->index.find(key)->second];
      if (e.kind == limit_kind::resource) {
        e.counter->refund(amount, now);
        continue;
      }
      auto used = used_.find(key);
      if (used == used_.end())
        continue;
      if (used->second < amount)
        e.counter->refund(amount - used->second, now);
      else if (used->second > amount)
        e.counter->charge(used->second - amount, now);
    }
    admit_waiters(*state, now, ready);
  }
  run(ready);
}

limit_set::limit_set(std::vector<limit> limits, std::shared_ptr<concurry::clock> clock)
    : state_{std::make_shared<limit_set_state>(std::move(limits), std::move(clock))} {}

acquisition limit_set::acquire(const amounts& requested) {
  return wait_for(requested, std::nullopt);
}

acquisition limit_set::acquire(const amounts& requested, std::chrono::nanoseconds timeout) {
  return wait_for(requested, timeout);
}

acquisition limit_set::try_acquire(const amounts& requested) {
  amounts granted;
  auto items = normalize(*state_, requested, granted);
  if (is_remote(*state_))
    return await(
        [&](detail::done_fn done, std::function<void()>*) {
          ask_remote(state_, requested, std::move(granted), std::nullopt, true, std::move(done));
        },
        /*defer=*/false);
  std::lock_guard lock{state_->mutex};
  auto now = state_->clock->now();
  if (held_up_by_waiters(*state_, items) || admit_time(*state_, items, now) > now)
    return detail::acquisition_access::make(nullptr, std::move(granted), /*successful=*/false);
  take_all(*state_, items, now);
  return detail::acquisition_access::make(state_, std::move(granted), /*successful=*/true);
}

void limit_set::acquire_async(const amounts& requested,
                              std::optional<std::chrono::nanoseconds> timeout,
                              std::function<void(acquisition, std::exception_ptr)> done) {
  queue_async(requested, timeout, std::move(done), nullptr);
}

void limit_set::queue_async(const amounts& requested,
                            std::optional<std::chrono::nanoseconds> timeout,
                            std::function<void(acquisition, std::exception_ptr)> done,
                            std::function<void()>* withdraw) {
  if (!done)
    throw config_error{"acquire_async needs a callback"};
  amounts granted;
  std::vector<request_item> items;
  try {
    items = normalize(*state_, requested, granted);
  } catch (const config_error&) {
    done(acquisition{}, std::current_exception());
    return;
  }
  if (is_remote(*state_))
    return ask_remote(state_, requested, std::move(granted), timeout, false, std::move(done));
  std::vector<completion> ready;
  {
    std::lock_guard lock{state_->mutex};
    auto& s = *state_;
    auto now = s.clock->now();
    auto held_up = held_up_by_waiters(s, items);
    auto at = held_up ? limit_algorithm::never : admit_time(s, items, now);

    // Granted at once, or refused at once when there is no time to wait.
    if (at <= now) {
      take_all(s, items, now);
      ready.push_back({std::move(done),
                       detail::acquisition_access::make(state_, std::move(granted), true),
                       nullptr});
    } else if (timeout && timeout->count() <= 0) {
      ready.push_back({std::move(done),
                       acquisition{},
                       std::make_exception_ptr(timeout_error{
                           "could not acquire the limits within " + format_seconds(*timeout)})});
    } else {
      // Queued: a deadline timer if asked, and an earlier wake-up if it heads all its keys.
      auto id = s.next_waiter++;
      auto& w = s.waiters[id];
      w.items = std::move(items);
      w.requested = std::move(granted);
      w.done = std::move(done);
      count_waiting(s, w.items, /*queued=*/true);
      if (withdraw)
        *withdraw = [weak = s.weak_from_this(), id] {
          end_waiter(weak,
                     id,
                     std::make_exception_ptr(cancelled_error{"the request was withdrawn"}),
                     /*from_deadline=*/false);
        };
      if (timeout && *timeout < time_point::max() - now)
        w.deadline =
            s.clock->schedule(now + *timeout, [weak = s.weak_from_this(), id, t = *timeout] {
              on_deadline(weak, id, t);
            });
      if (!held_up && at != limit_algorithm::never && (!s.wake_timer || at < s.wake_at))
        set_wake_timer(s, at);
    }
  }
  run(ready);
}

acquisition limit_set::wait_for(const amounts& requested,
                                std::optional<std::chrono::nanoseconds> timeout) {
  // Most requests are granted at once; only the others pay for the event below. A remote
  // owner grants at once when it can, so a try first would only cost a round trip. Inside a
  // coroutine every request goes through the event, which the coroutine co_awaits.
  if (!is_remote(*state_) && !detail::in_coroutine())
    if (auto granted = try_acquire(requested))
      return granted;
  return await(
      [&](detail::done_fn done, std::function<void()>* withdraw) {
        queue_async(requested, timeout, std::move(done), withdraw);
      },
      /*defer=*/true);
}

limit_set_stats limit_set::stats() const {
  if (is_remote(*state_))
    return state_->remote->stats();
  limit_set_stats out;
  std::lock_guard lock{state_->mutex};
  auto now = state_->clock->now();
  out.waiting = state_->waiters.size();
  out.limits.reserve(state_->entries.size());
  for (auto& e : state_->entries) {
    limit_stats l;
    l.kind = kind_name(e.kind);
    l.key = e.key;
    l.algorithm = e.algorithm ? std::string{to_string(*e.algorithm)} : std::string{};
    l.capacity = e.capacity;
    l.window_seconds = std::chrono::duration<double>(e.window).count();
    l.in_use = e.counter->in_use(now);
    l.available = e.counter->available(now);
    l.utilization = std::isinf(e.capacity) ? 0.0 : std::clamp(l.in_use / e.capacity, 0.0, 1.0);
    l.max_rate = e.algorithm ? e.capacity / l.window_seconds : 0.0;
    out.limits.push_back(std::move(l));
  }
  return out;
}

const std::vector<limit>& limit_set::limits() const noexcept {
  return state_->limits;
}

std::shared_ptr<concurry::clock> limit_set::clock() const noexcept {
  return state_->clock;
}

limit_set limit_set::clone() const {
  return limit_set{state_->limits, state_->clock};
}

namespace detail {

limit_set limit_set_access::make_remote(std::vector<limit> limits,
                                        std::shared_ptr<limit_backend> backend) {
  if (!backend)
    throw config_error{"a remote limit set needs a backend"};
  limit_set set{std::move(limits)};
  set.state_->remote = std::move(backend);
  return set;
}

const void* limit_set_access::identity(const limit_set& set) noexcept {
  return set.state_.get();
}

} // namespace detail

limit_pool::limit_pool() = default;

limit_pool::limit_pool(limit_set single) : limit_pool{std::vector<limit_set>{std::move(single)}} {}

limit_pool::limit_pool(std::vector<limit_set> sets, load_balancing lb, std::size_t worker_offset) {
  if (sets.empty())
    throw config_error{"a limit pool needs at least one limit set"};
  if (lb != load_balancing::round_robin && lb != load_balancing::random)
    throw config_error{"a limit pool balances with RoundRobin or Random, not " +
                       std::string{to_string(lb)}};
  state_ = std::make_shared<detail::limit_pool_state>();
  state_->offset = worker_offset % sets.size();
  state_->sets = std::move(sets);
  state_->lb = lb;
}

std::size_t limit_pool::pick() const {
  auto n = state_->sets.size();
  if (state_->lb == load_balancing::random) {
    std::lock_guard lock{state_->rng_mutex};
    return std::uniform_int_distribution<std::size_t>{0, n - 1}(state_->rng);
  }
  return (state_->offset + state_->next.fetch_add(1, std::memory_order_relaxed)) % n;
}

acquisition limit_pool::try_from(std::size_t first, const amounts& requested) const {
  auto n = state_->sets.size();
  auto refused = state_->sets[first].try_acquire(requested);
  for (std::size_t k = 1; k < n && !refused; ++k)
    if (auto a = state_->sets[(first + k) % n].try_acquire(requested))
      return a;
  return refused;
}

acquisition limit_pool::acquire(const amounts& requested) {
  if (!state_)
    return detail::acquisition_access::make(nullptr, requested, /*successful=*/true);
  if (detail::in_coroutine())
    return await(
        [&](detail::done_fn done, std::function<void()>* withdraw) {
          queue_async(requested, std::nullopt, std::move(done), withdraw);
        },
        /*defer=*/true);
  auto first = pick();
  if (auto a = try_from(first, requested))
    return a;
  return state_->sets[first].acquire(requested);
}

acquisition limit_pool::acquire(const amounts& requested, std::chrono::nanoseconds timeout) {
  if (!state_)
    return detail::acquisition_access::make(nullptr, requested, /*successful=*/true);
  if (detail::in_coroutine())
    return await(
        [&](detail::done_fn done, std::function<void()>* withdraw) {
          queue_async(requested, timeout, std::move(done), withdraw);
        },
        /*defer=*/true);
  auto first = pick();
  if (auto a = try_from(first, requested))
    return a;
  return state_->sets[first].acquire(requested, timeout);
}

acquisition limit_pool::try_acquire(const amounts& requested) {
  if (!state_)
    return detail::acquisition_access::make(nullptr, requested, /*successful=*/true);
  return try_from(pick(), requested);
}

void limit_pool::acquire_async(const amounts& requested,
                               std::optional<std::chrono::nanoseconds> timeout,
                               std::function<void(acquisition, std::exception_ptr)> done) {
  queue_async(requested, timeout, std::move(done), nullptr);
}

void limit_pool::queue_async(const amounts& requested,
                             std::optional<std::chrono::nanoseconds> timeout,
                             std::function<void(acquisition, std::exception_ptr)> done,
                             std::function<void()>* withdraw) {
  if (!done)
    throw config_error{"acquire_async needs a callback"};
  if (!state_) {
    done(detail::acquisition_access::make(nullptr, requested, /*successful=*/true), nullptr);
    return;
  }
  auto first = pick();
  acquisition a;
  try {
    a = try_from(first, requested);
  } catch (const config_error&) {
    done(acquisition{}, std::current_exception());
    return;
  }
  if (a) {
    done(std::move(a), nullptr);
    return;
  }
  state_->sets[first].queue_async(requested, timeout, std::move(done), withdraw);
}

limit_pool limit_pool::for_worker(std::size_t worker_index) const {
  if (!state_)
    return *this;
  return limit_pool{state_->sets, state_->lb, worker_index};
}

std::size_t limit_pool::size() const noexcept {
  return state_ ? state_->sets.size() : 0;
}

const limit_set& limit_pool::operator[](std::size_t index) const {
  if (index >= size())
    throw std::out_of_range{"limit pool index " + std::to_string(index) +
                            " is out of range; it has " + std::to_string(size()) + " limit sets"};
  return state_->sets[index];
}

limit_pool::stats_type limit_pool::stats() const {
  stats_type out;
  out.load_balancing = to_string(state_ ? state_->lb : load_balancing::round_robin);
  if (!state_)
    return out;
  out.num_limit_sets = state_->sets.size();
  out.worker_offset = state_->offset;
  for (auto& s : state_->sets)
    out.limit_sets.push_back(s.stats());
  return out;
}

} // namespace concurry
