// The base class of user workers. A worker is an ordinary C++ class that derives from
// concurry::worker<Self> and is registered with CONCURRY_WORKER (registry.hpp):
//
//     class counter : public concurry::worker<counter> {
//     public:
//       int add(int n) { return total_ += n; }
//     private:
//       int total_ = 0;
//     };
//     CONCURRY_WORKER(counter, (), add)
//
// `counter::options()` then starts the chain that builds a pool of such workers.
#pragma once

#include <concurry/limits.hpp>

#include <cstddef>

namespace concurry {

template <class W, bool Blocking>
class worker_builder;

namespace detail {
/// What a worker knows about its place in its pool; set by the runtime before the user's
/// constructor runs.
struct worker_context {
  std::size_t index = 0;
  limit_pool limits;
};
/// The context of the worker being constructed on this thread (the runtime sets it).
worker_context& constructing_worker_context() noexcept;
} // namespace detail

/// The untyped base of every worker; the runtime owns workers through it.
class worker_base {
public:
  worker_base() noexcept : context_{detail::constructing_worker_context()} {}
  worker_base(const worker_base&) = delete;
  worker_base& operator=(const worker_base&) = delete;
  virtual ~worker_base() = default;

  /// This worker's index in its pool, from 0; already valid inside the constructor.
  [[nodiscard]] std::size_t worker_index() const noexcept { return context_.index; }

  /// The limits this worker acquires from inside its methods:
  /// `auto acq = limits().acquire({{"tokens", 100}});`. The sets behind it are shared with the
  /// rest of the pool unless the pool was given per-worker limits; with no limits configured,
  /// every acquisition that names no key succeeds at once. Already valid inside the constructor.
  /// In process mode the sets' state stays in the client: each acquire and release is a round
  /// trip to it.
  [[nodiscard]] limit_pool& limits() noexcept { return context_.limits; }

private:
  detail::worker_context context_;
};

/// The base of a user worker class `Self` (derive as `class Self : public worker<Self>`).
/// It gives the class its `options()` entry point.
template <class Self>
class worker : public worker_base {
public:
  /// Starts the options chain for a pool of `Self` workers:
  /// `Self::options().mode(concurry::mode::thread).max_workers(4).init(ctor args...)`.
  static worker_builder<Self, false> options();
};

} // namespace concurry
