# The control messages between a client and the worker host processes it starts (process mode):
# the host's hello after it connects, the client's ping and the host's pong, and shutdown.
# Calls and results have a schema of their own (call.capnp).
@0x90fa6a1139d849cf;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("concurry::net::schema");

struct HostMessage {
  union {
    hello @0 :Hello;
    ping @1 :Ping;
    pong @2 :Ping;
    shutdown @3 :Void;
  }
}

# The first message of a host: who it is, and the client's secret that proves the client
# started it.
struct Hello {
  secret @0 :Text;
  pid @1 :Int32;
  worker @2 :UInt32;
}

# A ping; the pong carries the same sequence number back.
struct Ping {
  sequence @0 :UInt64;
}
