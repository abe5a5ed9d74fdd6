# The control plane of cluster mode: nodes joining the head and heartbeating, the head telling a
# node to start or stop a worker host, clients asking the head to place workers, and the status
# of the cluster. Calls never pass here: a worker host started on a node connects straight to
# the client that asked for it and speaks call.capnp and host.capnp with it, as in process mode.
#
# Every message is one ClusterMessage in flat-array form, carried as one CAF byte buffer. The
# first message of a node (nodeJoin) and of a client (clientHello) carries the cluster's token;
# the head ignores every other message from a sender that has not presented it.
@0xc74e8e6dda15399f;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("concurry::net::schema");

using Limits = import "limits.capnp";

# An amount of one resource in fixed point: 10,000 units are one CPU (or one of anything).
struct Resource {
  name @0 :Text;
  units @1 :Int64;
}

# One worker of one pool of one client, the same on every process and across head restarts:
# clients draw their id at random.
struct WorkerRef {
  client @0 :UInt64;
  pool @1 :UInt64;
  worker @2 :UInt32;
}

# What a worker asks of its node.
struct Demand {
  cpuUnits @0 :Int64;
  resources @1 :List(Resource);
  strategy @2 :Strategy;
  # With strategy `named`: the node's name.
  node @3 :Text;
  enum Strategy {
    pack @0;
    spread @1;
    named @2;
  }
}

# Where a worker host connects to: the client's listener for the pool, and the secret its hello
# must carry.
struct HostTarget {
  address @0 :Text;
  port @1 :UInt16;
  secret @2 :Text;
}

struct ClusterMessage {
  union {
    # -- node to head --------------------------------------------------------------------------
    nodeJoin @0 :NodeJoin;
    heartbeat @1 :UInt64;
    workerStarted @2 :WorkerStarted;
    workerExited @3 :WorkerExited;

    # -- head to node --------------------------------------------------------------------------
    startWorker @4 :StartWorker;
    # Stop the worker host (its client asked it to exit already; kill it if it outlives the
    # grace), or forget it if it has ended.
    stopWorker @5 :WorkerRef;
    # Drain: stop every worker host, then exit.
    shutdownNode @6 :Void;

    # -- client to head ------------------------------------------------------------------------
    clientHello @7 :ClientHello;
    place @8 :Place;
    # The pool is done with the worker: unplaced, it leaves the queue; placed, its node stops it
    # and its resources return once its host has ended.
    release @9 :WorkerRef;
    # How many workers of this demand fit on the cluster's free resources now.
    fit @10 :Place;
    ping @11 :UInt64;

    # -- anyone with the token to head --------------------------------------------------------
    statusRequest @12 :Text;
    # Stops every node, then the head (`concurry stop`).
    stopCluster @13 :Text;

    # -- head to client ------------------------------------------------------------------------
    # A worker was placed (answering `place`, or later for a worker that waited).
    placed @14 :Placed;
    # A worker host ended: it exited, was killed, or its node died.
    workerLost @15 :WorkerExited;

    # -- replies -------------------------------------------------------------------------------
    joined @16 :Joined;
    welcome @17 :Void;
    # The request was not accepted: a wrong token, a malformed message, a node name in use.
    refused @18 :Refused;
    # Answers `place` for a worker that fits nowhere now: it waits, and `placed` follows when
    # it fits. `infeasible` is true when no node in the cluster could ever hold it.
    waiting @19 :Waiting;
    fits @20 :UInt64;
    pong @21 :UInt64;
    status @22 :Status;
    stopping @23 :Void;
    # Creates a limit actor at the head per set; answered by CAF with the actors' handles.
    createLimits @24 :List(Limits.LimitSetSpec);
  }
}

struct NodeJoin {
  token @0 :Text;
  # Unique in the cluster; a node that rejoins uses its name again.
  name @1 :Text;
  resources @2 :List(Resource);
  # The registered worker types the node can host.
  workerTypes @3 :List(Text);
  pid @4 :Int32;
  # The worker hosts the node runs (rejoining a head that restarted), with what each holds.
  running @5 :List(RunningWorker);
}

struct RunningWorker {
  ref @0 :WorkerRef;
  demand @1 :Demand;
  workerType @2 :Text;
  pid @3 :Int32;
}

struct Joined {
  # How often the head wants a heartbeat.
  heartbeatIntervalMs @0 :UInt32;
}

struct WorkerStarted {
  ref @0 :WorkerRef;
  pid @1 :Int32;
}

struct WorkerExited {
  ref @0 :WorkerRef;
  # 0 when it never started or its node died.
  pid @1 :Int32;
  # "exited with code 0", "killed by signal 9 (SIGKILL)", "its node n1 died (...)".
  how @2 :Text;
  # Whether the process is known to be gone (false when its node died or froze: the host may
  # still run, and its client ends it).
  reaped @3 :Bool;
}

struct StartWorker {
  ref @0 :WorkerRef;
  workerType @1 :Text;
  target @2 :HostTarget;
  demand @3 :Demand;
  # The head's limit actors are reached at this address (a host connects there directly).
  headAddress @4 :Text;
  headPort @5 :UInt16;
}

struct ClientHello {
  token @0 :Text;
  client @1 :UInt64;
  pid @2 :Int32;
}

struct Place {
  ref @0 :WorkerRef;
  # The pool's name for status: the worker class.
  workerType @1 :Text;
  demand @2 :Demand;
  target @3 :HostTarget;
}

struct Placed {
  ref @0 :WorkerRef;
  node @1 :Text;
}

struct Refused {
  reason @0 :Text;
  # The token was wrong or missing.
  auth @1 :Bool;
}

struct Waiting {
  infeasible @0 :Bool;
  reason @1 :Text;
}

struct Status {
  nodes @0 :List(NodeStatus);
  pools @1 :List(PoolStatus);
  # Demands that fit nowhere now, and those no node could ever hold.
  pending @2 :List(DemandCount);
  infeasible @3 :List(DemandCount);
  limits @4 :List(Limits.LimitStats);
  clients @5 :UInt32;
  uptimeMs @6 :UInt64;
}

struct NodeStatus {
  name @0 :Text;
  pid @1 :Int32;
  alive @2 :Bool;
  total @3 :List(Resource);
  used @4 :List(Resource);
  workers @5 :UInt32;
  workerTypes @6 :List(Text);
  # Since the last heartbeat.
  silentMs @7 :UInt64;
}

struct PoolStatus {
  client @0 :UInt64;
  pool @1 :UInt64;
  workerType @2 :Text;
  placed @3 :UInt32;
  pending @4 :UInt32;
  infeasible @5 :UInt32;
}

struct DemandCount {
  demand @0 :Demand;
  workerType @1 :Text;
  count @2 :UInt32;
}
