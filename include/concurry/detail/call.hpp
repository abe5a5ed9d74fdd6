// A call in flight: the future state of its result, the method and its arguments, and the link
// that queues it on a worker. One allocation per call.
#pragma once

#include <concurry/async.hpp>
#include <concurry/clock.hpp>
#include <concurry/codec.hpp>
#include <concurry/detail/future_state.hpp>
#include <concurry/detail/member_fn.hpp>
#include <concurry/detail/retry_plan.hpp>
#include <concurry/error.hpp>
#include <concurry/worker.hpp>

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

namespace concurry::detail {

/// The method index of a call whose method is not listed in the worker's registration.
inline constexpr std::uint32_t unlisted_method = 0xffffffffu;

/// How one attempt of a call ended.
enum class run_result : std::uint8_t {
  stored, ///< the result or exception is stored; publish it with stored_status()
  lost,   ///< someone else completed the call meanwhile (a stop that gave up on it)
  retry,  ///< the attempt failed and another is due after the backoff; nothing is stored
};

class call_node;

/// Where an attempt started on an event loop reports its end (call_node::start).
class attempt_sink {
public:
  /// The attempt ended as execute() would have returned; on the loop's thread.
  virtual void attempt_ended(call_node& call, run_result result) noexcept = 0;
  /// The loop gave up on the attempt (its worker was abandoned); nothing was stored.
  virtual void attempt_abandoned(call_node& call) noexcept = 0;

protected:
  ~attempt_sink() = default;
};

/// The untyped view of a call that pools and worker threads handle.
class call_node {
public:
  std::atomic<call_node*> next_call{nullptr}; ///< intrusive link of a worker's queue

  /// The retry settings of the call's method, set by the pool before the first attempt; null
  /// for a single attempt. Owned by the pool's retry service, which outlives every attempt.
  const retry_plan* retry = nullptr;
  /// The method among those listed in the registration, or `unlisted_method`.
  std::uint32_t method_index = unlisted_method;
  /// Attempts started so far.
  std::uint32_t attempt = 0;
  /// For one worker itself (a broadcast's call): it never moves to another worker.
  bool pinned = false;
  /// A coroutine method's call: an asyncio worker runs it on its event loop (start()).
  bool coroutine = false;
  /// When the first attempt started, on the retry plan's clock (only with a plan).
  clock::time_point started{};
  /// Results that validators rejected, kept for retry_validation_error.
  std::unique_ptr<retry_record> record;

  /// The future state of this call.
  virtual future_state_base& state() noexcept = 0;

  /// Runs one attempt of the call on `w` and, unless another attempt is due, stores the result
  /// or exception without publishing it.
  virtual run_result execute(worker_base& w) noexcept = 0;

  /// Starts one attempt on the event loop running on this thread and reports its end to
  /// `sink`. For a coroutine method the attempt runs as a coroutine among the loop's others;
  /// any other call runs at once, as execute().
  virtual void start(worker_base& w, attempt_sink& sink) noexcept {
    sink.attempt_ended(*this, execute(w));
  }

  /// The status execute() stored: status_done or status_failed.
  virtual std::uint32_t stored_status() const noexcept = 0;

  /// The call's arguments encoded (codec.hpp), for a worker in another process. Throws
  /// codec_error when they cannot cross a process boundary.
  virtual std::vector<std::byte> encode_arguments() const = 0;

  /// Ends attempt `attempt` of the call, which ran in another process: `failure` is what it
  /// threw (or why it never answered), otherwise `result` holds its encoded result. Judged as
  /// execute() judges an attempt here (retry plan included); bytes that are not a result of the
  /// call's type fail it with codec_error. Stores, never publishes.
  virtual run_result settle_remote(std::span<const std::byte> result,
                                   std::exception_ptr failure) noexcept = 0;

  /// For a task worker's call in another process: the registered name of the function it
  /// runs (CONCURRY_TASK); empty for a method call.
  [[nodiscard]] virtual std::string_view task_name() const noexcept { return {}; }

  /// True when the call can begin an attempt: the first one moves the future from pending to
  /// running (false when it was cancelled); later ones find it running already.
  bool begin_attempt() noexcept { return attempt > 0 || state().try_start(); }

protected:
  ~call_node() = default;
};

/// The typed half of every call: the future state of an `R` and how an attempt stores into it.
template <class R>
class result_call : public value_state<R>, public call_node {
public:
  result_call() noexcept {
    this->add_ref(); // one reference for the future, one for the queue
  }

  future_state_base& state() noexcept override { return *this; }
  std::uint32_t stored_status() const noexcept override { return stored_; }

  run_result settle_remote(std::span<const std::byte> result,
                           std::exception_ptr failure) noexcept override {
    auto outcome = [&]() -> R {
      if (failure)
        std::rethrow_exception(failure);
      if constexpr (std::is_void_v<R>) {
        if (!result.empty())
          throw codec_error{"a void call got a result of " + std::to_string(result.size()) +
                            " bytes"};
      } else if constexpr (is_transferable_v<R>) {
        return decode<R>(result);
      } else {
        throw codec_error{"the call's result type cannot cross a process boundary"};
      }
    };
    return conclude(outcome);
  }

  bool interruptible() const noexcept override { return running_ && running_->active(); }
  void interrupt() noexcept override {
    if (running_)
      running_->cancel();
  }

protected:
  /// Ends an attempt whose result `outcome()` gives (or throws): judged under the call's retry
  /// plan if it has one, then stored (never published).
  template <class Outcome>
  run_result conclude(Outcome&& outcome) noexcept {
    if (this->retry)
      return this->attempt_with(*this->retry, outcome);
    try {
      if constexpr (std::is_void_v<R>) {
        outcome();
        return finish_value();
      } else {
        return finish_value(outcome());
      }
    } catch (...) {
      return finish_failed(std::current_exception());
    }
  }

  /// Lets cancel() stop this call's attempts that run as coroutines on a loop.
  void enable_interrupts() { running_ = std::make_unique<running_root>(); }

  /// One attempt run here, to its end (execute()): `refusal()` ends it before it runs (a
  /// run_result), or lets it run (nullopt); `call()` gives the method's own result, a task for
  /// a coroutine, which then runs on a loop of its own.
  template <bool Coroutine, class Refusal, class Call>
  run_result run_attempt(Refusal refusal, Call call) noexcept {
    ++this->attempt;
    if (auto refused = refusal())
      return *refused;
    if constexpr (Coroutine)
      return conclude([&]() -> R { return concurry::run(call()); });
    else
      return conclude([&]() -> R { return call(); });
  }

  /// One attempt of a coroutine call started on the loop running on this thread (start()),
  /// with `refusal` and `call` as for run_attempt.
  template <class Refusal, class Call>
  void start_attempt(attempt_sink& sink, Refusal refusal, Call call) noexcept {
    ++this->attempt;
    if (auto refused = refusal())
      return sink.attempt_ended(*this, *refused);
    start_coroutine(call, sink);
  }

  /// Starts one attempt of a coroutine call on the loop running on this thread: `make()` gives
  /// the method's task; its end is judged as conclude() judges it and reported to `sink`.
  template <class Make>
  void start_coroutine(Make make, attempt_sink& sink) noexcept {
    task<R> work;
    try {
      work = make();
      auto done = [this, &sink](coro_result<R>&& o) noexcept {
        running_->clear();
        sink.attempt_ended(*this, conclude([&]() -> R { return o.take(); }));
      };
      auto abandoned = [this, &sink]() noexcept {
        running_->clear();
        sink.attempt_abandoned(*this);
      };
      running_->set(start_on_current_loop(drive(std::move(work), std::move(done)), abandoned));
    } catch (...) {
      auto e = std::current_exception();
      sink.attempt_ended(*this, conclude([&]() -> R { std::rethrow_exception(e); }));
    }
  }

  /// Takes the right to complete and stores `value...` (nothing for void).
  template <class... V>
  run_result finish_value(V&&... value) noexcept {
    if (!this->claim())
      return run_result::lost;
    stored_ = status_done;
    try {
      this->store(std::forward<V>(value)...);
    } catch (...) {
      this->error_ = std::current_exception();
      stored_ = status_failed;
    }
    return run_result::stored;
  }

  /// Takes the right to complete and stores `e`.
  run_result finish_failed(std::exception_ptr e) noexcept {
    if (!this->claim())
      return run_result::lost;
    this->error_ = std::move(e);
    stored_ = status_failed;
    return run_result::stored;
  }

  /// Runs one attempt under `plan`: `attempt_fn()` computes the result from copies of the
  /// arguments; the exception or the result is judged here, on the worker.
  template <class Attempt>
  run_result attempt_with(const retry_plan& plan, Attempt attempt_fn) noexcept {
    try {
      // An attempt in another process was stamped when it went out.
      if (this->attempt == 1 && this->started == clock::time_point{})
        this->started = plan.clock->now();
      if constexpr (std::is_void_v<R>) {
        attempt_fn();
        return finish_value();
      } else {
        R r = attempt_fn();
        if (plan.until.empty())
          return finish_value(std::move(r));
        auto why = plan.rejects(&r, plan.context(this->attempt, this->started, nullptr));
        if (why.empty())
          return finish_value(std::move(r));
        if (!this->record)
          this->record = std::make_unique<retry_record>();
        this->record->results.emplace_back(std::move(r));
        this->record->reasons.push_back(std::move(why));
        if (this->attempt < plan.max_attempts)
          return run_result::retry;
        auto done = std::move(this->record);
        return finish_failed(std::make_exception_ptr(retry_validation_error{
            plan.method_name, this->attempt, std::move(done->results), std::move(done->reasons)}));
      }
    } catch (...) {
      auto e = std::current_exception();
      if (this->attempt < plan.max_attempts &&
          plan.retries_exception(plan.context(this->attempt, this->started, e)))
        return run_result::retry;
      return finish_failed(std::move(e));
    }
  }

private:
  std::uint32_t stored_ = status_done;
  // A coroutine call's running attempt, for cancel(); null for other calls.
  std::unique_ptr<running_root> running_;
};

/// A copy of a stored argument, passed as parameter type `P` asks: a const reference to the
/// stored value, or a fresh copy for a by-value or rvalue parameter (so a later attempt still
/// sees the original).
template <class P, class A>
decltype(auto) argument_copy(const A& a) {
  if constexpr (std::is_lvalue_reference_v<P>)
    return static_cast<P>(a);
  else
    return std::decay_t<P>(a);
}

/// The attempts of a call of member function `M` of `W`, for the call class `D`, which gives
/// `refusal()` (an end before the attempt runs, or nullopt) and `call_method(W&)` (the method's
/// own result: a task for a coroutine method).
template <class D, class R, class W, class M>
class method_call : public result_call<R> {
public:
  run_result execute(worker_base& w) noexcept override {
    return this->template run_attempt<coroutine_method>(
        [this] { return self().refusal(); },
        [this, &w] { return self().call_method(static_cast<W&>(w)); });
  }

  void start(worker_base& w, attempt_sink& sink) noexcept override {
    if constexpr (!coroutine_method)
      result_call<R>::start(w, sink);
    else
      this->start_attempt(
          sink,
          [this] { return self().refusal(); },
          [this, &w] { return self().call_method(static_cast<W&>(w)); });
  }

protected:
  static constexpr bool coroutine_method = member_fn<M>::coroutine;

  method_call() {
    if constexpr (coroutine_method) {
      this->coroutine = true;
      this->enable_interrupts();
    }
  }

private:
  D& self() noexcept { return static_cast<D&>(*this); }
};

/// A call of member function `M` on worker type `W` with decayed arguments `Args`.
template <class R, class W, class M, class Args>
class call_op final : public method_call<call_op<R, W, M, Args>, R, W, M> {
public:
  template <class... A>
  call_op(M method, A&&... args) : method_{method}, args_{std::forward<A>(args)...} {}

  std::vector<std::byte> encode_arguments() const override {
    if constexpr (is_transferable_v<Args>)
      return encode(args_);
    else
      throw codec_error{
          "an argument of this call cannot cross a process boundary (a worker "
          "registered with CONCURRY_LOCAL_WORKER runs in sync and thread modes only)"};
  }

private:
  friend class method_call<call_op, R, W, M>;
  using params = typename member_fn<M>::args;
  static constexpr params* params_tag = nullptr;
  static constexpr bool copyable_args = []<class... T>(std::tuple<T...>*) {
    return (std::is_copy_constructible_v<T> && ...);
  }(static_cast<Args*>(nullptr));

  // Retries need copies of the arguments for every attempt.
  std::optional<run_result> refusal() noexcept {
    if (copyable_args || !this->retry)
      return std::nullopt;
    return this->finish_failed(std::make_exception_ptr(
        config_error{"retries need copyable arguments: " + this->retry->method_name +
                     " takes an argument that cannot be copied, so the call cannot run again"}));
  }

  // The method's own result (a task for a coroutine method): without retries the stored
  // arguments go in, with retries copies of them.
  decltype(auto) call_method(W& self) {
    constexpr auto all = std::make_index_sequence<std::tuple_size_v<Args>>{};
    if constexpr (copyable_args)
      if (this->retry)
        return invoke_copy(self, params_tag, all);
    return invoke(self, params_tag, all);
  }

  // Each stored argument goes in as the parameter asks: moved into a by-value or rvalue
  // parameter, as an lvalue into a reference parameter. A call without retries runs once.
  template <class... P, std::size_t... I>
  decltype(auto) invoke(W& self, std::tuple<P...>*, std::index_sequence<I...>) {
    return (self.*method_)(static_cast<P&&>(std::get<I>(args_))...);
  }

  // With retries every attempt gets copies, so the stored arguments stay intact.
  template <class... P, std::size_t... I>
  decltype(auto) invoke_copy(W& self, std::tuple<P...>*, std::index_sequence<I...>) {
    return (self.*method_)(argument_copy<P>(std::get<I>(args_))...);
  }

  M method_;
  Args args_;
};

/// A call of a free function `F` with decayed arguments `Args`, run on a task worker (which the
/// function does not see).
template <class R, class F, class Args>
class task_op final : public result_call<R> {
public:
  template <class G, class... A>
  explicit task_op(G&& fn, A&&... args)
      : fn_{std::forward<G>(fn)}, args_{std::forward<A>(args)...} {
    if constexpr (coroutine_fn) {
      this->coroutine = true;
      this->enable_interrupts();
    }
  }

  /// Names the registered function this call runs in another process (registry.hpp).
  void bind_task(std::string_view name) noexcept { task_ = name; }

  std::string_view task_name() const noexcept override { return task_; }

  // The arguments as the function's parameter types, which the host decodes.
  std::vector<std::byte> encode_arguments() const override {
    if constexpr (free_fn<F>::is_function) {
      using params = typename free_fn<F>::decayed_args;
      constexpr bool convertible = []<class... A>(std::tuple<A...>*) {
        return std::is_constructible_v<params, const A&...>;
      }(static_cast<Args*>(nullptr));
      if constexpr (is_transferable_v<params> && convertible) {
        return std::apply([](const auto&... a) { return encode(params{a...}); }, args_);
      } else {
        throw codec_error{"an argument of this task cannot cross a process boundary"};
      }
    } else {
      throw codec_error{"a lambda or function object cannot cross a process boundary; submit a "
                        "function registered with CONCURRY_TASK"};
    }
  }

  run_result execute(worker_base&) noexcept override {
    return this->template run_attempt<coroutine_fn>([this] { return refusal(); },
                                                    [this] { return call_function(); });
  }

  void start(worker_base& w, attempt_sink& sink) noexcept override {
    if constexpr (!coroutine_fn)
      result_call<R>::start(w, sink);
    else
      this->start_attempt(
          sink, [this] { return refusal(); }, [this] { return call_function(); });
  }

private:
  template <class T>
  static T auto_copy(const T& t) {
    return t;
  }

  static constexpr bool coroutine_fn = []<class... A>(std::tuple<A...>*) {
    return is_task_v<std::decay_t<std::invoke_result_t<F&, A...>>>;
  }(static_cast<Args*>(nullptr));

  std::optional<run_result> refusal() noexcept {
    if (std::is_copy_constructible_v<Args> || !this->retry)
      return std::nullopt;
    return this->finish_failed(std::make_exception_ptr(
        config_error{"retries need copyable arguments: a submitted function takes an argument "
                     "that cannot be copied, so the call cannot run again"}));
  }

  // The function's own result (a task for a coroutine function). Without retries the stored
  // arguments are moved in; with retries each attempt gets copies, except that a coroutine gets
  // the stored ones by reference (its frame may keep references to them, and they outlive it).
  decltype(auto) call_function() {
    if constexpr (std::is_copy_constructible_v<Args>)
      if (this->retry) {
        if constexpr (coroutine_fn)
          return std::apply(
              [&](const auto&... a) -> decltype(auto) { return std::invoke(fn_, a...); }, args_);
        else
          return std::apply(
              [&](const auto&... a) -> decltype(auto) { return std::invoke(fn_, auto_copy(a)...); },
              args_);
      }
    return std::apply(
        [&](auto&... a) -> decltype(auto) { return std::invoke(fn_, std::move(a)...); }, args_);
  }

  F fn_;
  Args args_;
  std::string_view task_; // into the task registry, which lives as long as the program
};

} // namespace concurry::detail
