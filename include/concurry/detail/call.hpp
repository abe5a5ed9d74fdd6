// A call in flight: the future state of its result, the method and its arguments, and the link
// that queues it on a worker. One allocation per call.
#pragma once

#include <concurry/detail/future_state.hpp>
#include <concurry/detail/member_fn.hpp>
#include <concurry/worker.hpp>

#include <atomic>
#include <cstdint>
#include <exception>
#include <tuple>
#include <type_traits>
#include <utility>

namespace concurry::detail {

/// The untyped view of a call that pools and worker threads handle.
class call_node {
public:
  std::atomic<call_node*> next_call{nullptr}; ///< intrusive link of a worker's queue

  /// The future state of this call.
  virtual future_state_base& state() noexcept = 0;

  /// Runs the method on `w` and stores the result or exception without publishing it. False
  /// when someone else completed the call meanwhile (a stop that gave up on it).
  virtual bool execute(worker_base& w) noexcept = 0;

  /// The status execute() stored: status_done or status_failed.
  virtual std::uint32_t stored_status() const noexcept = 0;

protected:
  ~call_node() = default;
};

/// A call of member function `M` on worker type `W` with decayed arguments `Args`.
template <class R, class W, class M, class Args>
class call_op final : public value_state<R>, public call_node {
public:
  template <class... A>
  call_op(M method, A&&... args) : method_{method}, args_{std::forward<A>(args)...} {
    this->add_ref(); // one reference for the future, one for the queue
  }

  future_state_base& state() noexcept override { return *this; }

  bool execute(worker_base& w) noexcept override {
    try {
      auto& self = static_cast<W&>(w);
      if constexpr (std::is_void_v<R>) {
        invoke(self,
               static_cast<params*>(nullptr),
               std::make_index_sequence<std::tuple_size_v<Args>>{});
        if (!this->claim())
          return false;
      } else {
        R r = invoke(self,
                     static_cast<params*>(nullptr),
                     std::make_index_sequence<std::tuple_size_v<Args>>{});
        if (!this->claim())
          return false;
        stored_ = status_done;
        try {
          this->store(std::move(r));
        } catch (...) {
          this->error_ = std::current_exception();
          stored_ = status_failed;
        }
        return true;
      }
    } catch (...) {
      if (!this->claim())
        return false;
      this->error_ = std::current_exception();
      stored_ = status_failed;
    }
    return true;
  }

  std::uint32_t stored_status() const noexcept override { return stored_; }

private:
  using params = typename member_fn<M>::args;

  // Each stored argument goes in as the parameter asks: moved into a by-value or rvalue
  // parameter, as an lvalue into a reference parameter. The call owns its arguments and runs once.
  template <class... P, std::size_t... I>
  R invoke(W& self, std::tuple<P...>*, std::index_sequence<I...>) {
    return (self.*method_)(static_cast<P&&>(std::get<I>(args_))...);
  }

  M method_;
  Args args_;
  std::uint32_t stored_ = status_done;
};

} // namespace concurry::detail
