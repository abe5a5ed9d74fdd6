# Requests to a limit actor and its replies. The actor holds the one state of a shared limit
# set; workers in other processes and on other nodes acquire and release through it.
@0xf34dc3e83a8ad23d;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("concurry::net::schema");

# An amount of one limit, by key ("call_count" for call limits).
struct Amount {
  key @0 :Text;
  value @1 :Float64;
}

struct LimitRequest {
  # Chosen by the requester; the reply carries it back.
  id @0 :UInt64;
  union {
    acquire @1 :Acquire;
    release @2 :Release;
    stats @3 :Void;
  }
}

struct Acquire {
  amounts @0 :List(Amount);
  # Negative: wait as long as it takes.
  timeoutNs @1 :Int64;
  # Answer at once with `refused` instead of waiting.
  tryOnly @2 :Bool;
}

struct Release {
  grant @0 :UInt64;
  # The real usage per key; empty when the requester did not report one.
  usage @1 :List(Amount);
  hasUsage @2 :Bool;
}

struct LimitReply {
  id @0 :UInt64;
  union {
    granted @1 :Granted;
    refused @2 :Void;
    error @3 :Error;
    released @4 :Void;
    stats @5 :List(LimitStats);
  }
  # With `stats`: the requests waiting for capacity.
  waiting @6 :UInt64;
}

struct Granted {
  grant @0 :UInt64;
  amounts @1 :List(Amount);
}

struct Error {
  kind @0 :Kind;
  message @1 :Text;
  enum Kind {
    timeout @0;
    invalid @1;
    internal @2;
  }
}

struct LimitStats {
  kind @0 :Text;
  key @1 :Text;
  algorithm @2 :Text;
  capacity @3 :Float64;
  windowSeconds @4 :Float64;
  inUse @5 :Float64;
  available @6 :Float64;
  utilization @7 :Float64;
  maxRate @8 :Float64;
}

# One limit of a set, as a worker in another process sees it: enough to check its requests and
# its usage before they leave, and to answer `limits()`.
struct LimitSpec {
  kind @0 :Kind;
  key @1 :Text;
  # May be infinite (unlimited).
  capacity @2 :Float64;
  # Call and rate limits only.
  windowNs @3 :Int64;
  algorithm @4 :Algorithm;

  enum Kind {
    call @0;
    rate @1;
    resource @2;
  }
  enum Algorithm {
    tokenBucket @0;
    leakyBucket @1;
    slidingWindow @2;
    fixedWindow @3;
    gcra @4;
  }
}

struct LimitSetSpec {
  limits @0 :List(LimitSpec);
}

# The limits of one worker in a worker host: the sets of its limit pool in order, each served by
# the limit actor at the same position of the actor list that travels with this message, and how
# the pool picks among them.
struct WorkerLimits {
  sets @0 :List(LimitSetSpec);
  random @1 :Bool;
  workerOffset @2 :UInt64;
}
