// The whole public API of concurry: workers, registration, options, pools, futures, statistics
// and the runtime. Includes no CAF or Cap'n Proto header.
/// \mainpage concurry
///
/// A C++ actor runtime with worker pools. Include `<concurry/concurry.hpp>` and link
/// `concurry::concurry`. Where to start:
///
/// - concurry::runtime: the one object at the top of `main`.
/// - concurry::worker: the base of a worker class, registered with CONCURRY_WORKER or
///   CONCURRY_LOCAL_WORKER (registry.hpp). User types that calls carry are made transferable
///   with CONCURRY_TYPE (transfer.hpp), or with a `concurry_encode`/`concurry_decode` pair
///   (codec.hpp, where concurry::encode and concurry::decode live).
/// - exceptions across processes: CONCURRY_EXCEPTION registers a type so that it is rethrown as
///   itself; others arrive as concurry::remote_error (exceptions.hpp).
/// - concurry::worker_builder: the options chain that `W::options()` starts and `init()` ends.
/// - concurry::basic_pool and concurry::basic_handle: they make the calls; concurry::future:
///   the pending result of one; concurry::wait, concurry::gather and concurry::as_completed
///   (wait.hpp) wait for many.
/// - concurry::limit_set: concurry::call_limit, concurry::rate_limit and
///   concurry::resource_limit taken together; `acquire()` returns a concurry::acquisition.
///   concurry::clock is the time source of limits.
/// - retries: `num_retries`, `retry_on`, `retry_until` and the rest on the builder
///   (retry.hpp); a result that never passes its validators fails with
///   concurry::retry_validation_error.
/// - concurry::configuration (config.hpp): the defaults of every mode, with
///   concurry::config_override for a scope.
/// - concurry::task_worker (task.hpp): pools that run free functions with `submit` and `map`;
///   concurry::make_task binds a function to one.
/// - coroutine methods (async.hpp): a method returning concurry::task<T> is a C++20 coroutine
///   that can `co_await` concurry::sleep, a concurry::future and `limits().acquire(...)`; in
///   asyncio mode a worker's coroutines interleave on one event loop.
/// - concurry::pool_stats: what `stats()` returns; concurry::error: the base of every exception
///   concurry throws.
#pragma once

#include <concurry/async.hpp>
#include <concurry/clock.hpp>
#include <concurry/codec.hpp>
#include <concurry/config.hpp>
#include <concurry/error.hpp>
#include <concurry/exceptions.hpp>
#include <concurry/future.hpp>
#include <concurry/limits.hpp>
#include <concurry/mode.hpp>
#include <concurry/options.hpp>
#include <concurry/pool.hpp>
#include <concurry/registry.hpp>
#include <concurry/retry.hpp>
#include <concurry/runtime.hpp>
#include <concurry/stats.hpp>
#include <concurry/task.hpp>
#include <concurry/transfer.hpp>
#include <concurry/version.hpp>
#include <concurry/wait.hpp>
#include <concurry/worker.hpp>
