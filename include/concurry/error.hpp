// The exception types of the public API. Every error concurry reports derives from
// concurry::error, so `catch (const concurry::error&)` sees all of them; exceptions thrown by
// user methods are never wrapped and reach the caller with their own type.
#pragma once

#include <stdexcept>
#include <string>

namespace concurry {

/// The base of every exception concurry itself throws.
class error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// A wait with a deadline ran out: `future::result(timeout)`, `stop` waits and the like.
/// The thing waited for is left as it was; a future can be waited on again.
class timeout_error : public error {
public:
  using error::error;
};

/// The call was cancelled with `future::cancel()` before it started.
class cancelled_error : public error {
public:
  using error::error;
};

/// The pool was stopped: the call was made after `stop`, or it was still queued or running when
/// the stop timeout ran out.
class stopped_error : public error {
public:
  using error::error;
};

/// The process of the worker that ran the call died (crashed, was killed, or exited) before the
/// call finished, and no retry was left to send it elsewhere.
class worker_died : public error {
public:
  using error::error;
};

/// A call's message is larger than the pool allows (`max_message_size`, 64 MiB by default):
/// its arguments on the way to a worker in another process, or its result on the way back. The
/// message names both sizes. Only that call fails; the worker keeps running and the pool keeps
/// working. Thread and sync pools never serialise and never throw it.
class message_too_large : public error {
public:
  using error::error;
};

/// The cluster refused this program's token (`cluster_token`, or CONCURRY_TOKEN): the head
/// was reached, and said no. Nothing was started.
class auth_error : public error {
public:
  using error::error;
};

/// The cluster's head cannot be reached, or stopped answering: placing a worker or acquiring a
/// cluster-wide limit failed. Calls to workers already running go on; they do not need the head.
class cluster_unavailable : public error {
public:
  using error::error;
};

/// Invalid options or registration: an unknown mode or load balancer, a worker count the mode
/// does not allow, a mode the worker's registration does not permit.
class config_error : public error {
public:
  using error::error;
};

} // namespace concurry
