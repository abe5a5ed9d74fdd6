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
