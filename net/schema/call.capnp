# Calls between a client and a worker host, the child process that holds one of its workers
# (process mode): building the worker, calls and their results or errors, cancelling, stopping,
# and the host's output lines. The host's hello, pings and shutdown are in host.capnp; limit
# acquisitions go to the limit actor (limits.capnp).
#
# Each message is one Cap'n Proto message in flat-array form (capnp::messageToFlatArray, not
# packed), carried as one CAF byte buffer: a ToHost from client to host, a FromHost back.
@0xcb52e02cac68a7d1;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("concurry::net::schema");

# -- The layout of values ------------------------------------------------------------------------
#
# The Data fields `arguments` and `value` hold one value each in concurry's value codec
# (include/concurry/codec.hpp), a compact layout without type tags: both sides know the type from
# the registered worker. E(T) is the encoding of a value of type T; nothing precedes or follows it.
#
#   fixed numbers   Little-endian. bool: one byte, 0 or 1 (anything else is an error).
#                   Integers, character types and std::byte: sizeof(T) bytes, two's complement.
#                   float and double: the IEEE 754 bits in 4 and 8 bytes, so NaN payloads and
#                   the sign of zero survive. long double: sizeof(long double) bytes of its
#                   representation; for the x87 80-bit format the 10 bytes of the value, then
#                   zero bytes (hosts must share the ABI).
#   size            Unsigned LEB128: 7 bits per byte, least significant group first, the high bit
#                   set on every byte but the last; 1 to 10 bytes, at most 2^64 - 1.
#   enum            E(its underlying type).
#   duration        E(rep) of count(); the period is not sent.
#   std::string     size n, then n bytes.
#   vector, deque,  size n, then E(T) n times; for vector<bool> one byte per element. Vectors of
#   list            numbers are one block of n * sizeof(T) bytes in the layout above.
#   std::array<T,N> E(T) N times, no size.
#   set,            size n, then E(T) n times in iteration order; an element may not repeat.
#   unordered_set
#   map,            size n, then n times E(key) E(value); a key may not repeat.
#   unordered_map
#   optional<T>     byte 0 when empty; byte 1, then E(T).
#   pair, tuple     E of each element in order; an empty tuple takes no bytes.
#   variant<T...>   size i, the index of the alternative held (less than the number of
#                   alternatives), then E(Ti).
#   std::monostate  no bytes.
#   CONCURRY_TYPE   E of each listed field, in the order listed.
#   a user type     n as 4 bytes (unsigned, little-endian), then the n bytes its
#   with its own    concurry_encode wrote (values in this layout); its concurry_decode must read
#   codec           exactly those n bytes.
#
# The arguments of a call or a constructor are E(std::tuple<A...>) of the parameter types without
# references and const; a result is E(R), and the result of a void method is empty Data.
#
# A reader checks every size against the bytes that remain (a size times the fewest bytes an
# element takes) and against a memory limit (by default 64 MiB plus 64 times the length of the
# Data) before it allocates, nests user types at most 128 deep, and rejects bytes left over.
# Anything else is an error on that call (concurry::codec_error), never a crash.

# -- Client to host ------------------------------------------------------------------------------

struct ToHost {
  union {
    construct @0 :ConstructWorker;
    call @1 :Call;
    cancel @2 :CancelCall;
    # Start no new work once the calls received so far are done, then destroy the worker and
    # answer `stopped`. The client ends a host that does not answer within the stop timeout.
    stop @3 :Void;
    # Several whole ToHost messages, each in the flat-array form of one, handled in list order as
    # if each had come alone; never a batch again. Carrying several calls in one CAF message
    # saves the middleman's cost per message when calls go out back to back.
    batch @4 :List(Data);
  }
}

# Builds the host's worker; the host answers `constructed`. Sent once, or again after `stopped`.
struct ConstructWorker {
  poolId @0 :UInt64;
  workerIndex @1 :UInt32;
  # The class name as registered with CONCURRY_WORKER.
  workerType @2 :Text;
  # E(std::tuple<constructor argument types...>).
  arguments @3 :Data;
  # The largest message the host may send, in bytes (the pool's max_message_size): a result
  # whose FromHost message would be larger is answered with an error instead
  # (concurry::message_too_large). 0, as a client that predates the field sends: 64 MiB.
  maxMessageSize @4 :UInt64;
}

# One call of a method of the worker; answered by exactly one `result` or `error` with its callId.
struct Call {
  # Chosen by the client, unique among the calls in flight to this host.
  callId @0 :UInt64;
  poolId @1 :UInt64;
  workerIndex @2 :UInt32;
  # The method's position among those listed in the worker's registration.
  methodIndex @3 :UInt32;
  # The method's name as listed; the host checks it against methodIndex. Empty: not checked.
  methodName @4 :Text;
  # 1 for the first attempt, 2 for the first retry, and so on.
  attempt @5 :UInt32;
  # E(std::tuple<parameter types...>).
  arguments @6 :Data;
  # A task worker's call: the name of the free function to run, as registered with
  # CONCURRY_TASK; methodIndex and methodName are then ignored, and `arguments` is
  # E(std::tuple<the function's parameter types...>). Empty for a method call.
  task @7 :Text;
}

# Drops a call that has not started; the host answers it with an error (concurry::cancelled_error).
# A call already running is not interrupted and answers as usual.
struct CancelCall {
  callId @0 :UInt64;
}

# -- Host to client ------------------------------------------------------------------------------

struct FromHost {
  union {
    constructed @0 :WorkerConstructed;
    result @1 :CallResult;
    error @2 :CallError;
    # The worker is destroyed after `stop`; every call received before has been answered.
    stopped @3 :Void;
    output @4 :OutputLine;
    # Several whole FromHost messages, as ToHost.batch: results that became ready while an
    # earlier one was on its way out go together.
    batch @5 :List(Data);
  }
}

struct WorkerConstructed {
  poolId @0 :UInt64;
  workerIndex @1 :UInt32;
  union {
    # The constructor returned; calls may follow.
    ok @2 :Void;
    # The constructor threw; the host holds no worker.
    failure @3 :ExceptionInfo;
  }
}

struct CallResult {
  callId @0 :UInt64;
  # E(result type); empty for a void method.
  value @1 :Data;
  # Empty when the result passed the method's retry_until validators (or it has none);
  # otherwise why it was rejected.
  rejection @2 :Text;
}

# The call threw, or could not be made (unknown method, arguments that do not decode: then a
# concurry error type such as concurry::codec_error).
struct CallError {
  callId @0 :UInt64;
  exception @1 :ExceptionInfo;
  # The host judged the exception against the method's retry_on: true when another attempt may
  # follow (the client keeps the count of attempts).
  retry @2 :Bool;
}

# An exception as it crosses the boundary (include/concurry/exceptions.hpp).
struct ExceptionInfo {
  # The demangled name of the exception's dynamic type, "std::out_of_range".
  typeName @0 :Text;
  # Its what().
  message @1 :Text;
  # Whether the type is registered in the host (CONCURRY_EXCEPTION or a default one); the client
  # rebuilds it as itself only when it has registered the same name too.
  registered @2 :Bool;
}

# One line the host's user code wrote, without its line break; the client prints it on its own
# stream of the same name, prefixed with the worker.
struct OutputLine {
  stream @0 :Stream;
  line @1 :Text;
  enum Stream {
    stdout @0;
    stderr @1;
  }
}
