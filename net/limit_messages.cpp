#include "net/limit_messages.hpp"

#include "net/internal/flat_message.hpp"
#include "net/internal/limit_schema.hpp"
#include "schema/limits.capnp.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/array.h>
#include <kj/exception.h>

#include <cmath>
#include <cstring>

namespace concurry::net {

namespace {

namespace s = schema;
using internal::to_bytes;

// -- encoding -----------------------------------------------------------------

void put_amounts(capnp::List<s::Amount>::Builder out, const amounts& in) {
  unsigned i = 0;
  for (auto& [key, value] : in) {
    out[i].setKey(key);
    out[i].setValue(value);
    ++i;
  }
}

// -- decoding -----------------------------------------------------------------

// Cap'n Proto reads 8-byte aligned words: copy the bytes into words first.
kj::Array<capnp::word> to_words(const std::vector<char>& bytes) {
  if (bytes.empty() || bytes.size() % sizeof(capnp::word) != 0)
    throw decode_error{"a limit message of " + std::to_string(bytes.size()) +
                       " bytes is not a whole number of 8-byte words"};
  auto words = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), bytes.data(), bytes.size());
  return words;
}

amounts get_amounts(capnp::List<s::Amount>::Reader in) {
  amounts out;
  for (auto a : in) {
    double v = a.getValue();
    if (!std::isfinite(v) && !std::isinf(v))
      throw decode_error{"a limit amount is not a number"};
    out[std::string{a.getKey().cStr()}] = v;
  }
  return out;
}

template <class Fn>
auto decoding(const std::vector<char>& bytes, Fn&& fn) {
  auto words = to_words(bytes);
  try {
    capnp::FlatArrayMessageReader reader{words};
    return fn(reader);
  } catch (const kj::Exception& e) {
    throw decode_error{std::string{"a malformed limit message: "} + e.getDescription().cStr()};
  }
}

} // namespace

std::vector<char> encode(const limit_request& request) {
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<s::LimitRequest>();
  root.setId(request.id);
  if (auto* a = std::get_if<limit_acquire>(&request.body)) {
    auto acq = root.initAcquire();
    put_amounts(acq.initAmounts(static_cast<unsigned>(a->requested.size())), a->requested);
    acq.setTimeoutNs(a->timeout ? a->timeout->count() : -1);
    acq.setTryOnly(a->try_only);
  } else if (auto* r = std::get_if<limit_release>(&request.body)) {
    auto rel = root.initRelease();
    rel.setGrant(r->grant);
    rel.setHasUsage(r->usage.has_value());
    if (r->usage)
      put_amounts(rel.initUsage(static_cast<unsigned>(r->usage->size())), *r->usage);
  } else {
    root.setStats();
  }
  return to_bytes(message);
}

std::vector<char> encode(const limit_reply& reply) {
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<s::LimitReply>();
  root.setId(reply.id);
  std::visit(
      [&](const auto& body) {
        using T = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<T, limit_granted>) {
          auto g = root.initGranted();
          g.setGrant(body.grant);
          put_amounts(g.initAmounts(static_cast<unsigned>(body.granted.size())), body.granted);
        } else if constexpr (std::is_same_v<T, limit_refused>) {
          root.setRefused();
        } else if constexpr (std::is_same_v<T, limit_failure>) {
          auto e = root.initError();
          e.setMessage(body.message);
          e.setKind(body.what == limit_failure::kind::timeout   ? s::Error::Kind::TIMEOUT
                    : body.what == limit_failure::kind::invalid ? s::Error::Kind::INVALID
                                                                : s::Error::Kind::INTERNAL);
        } else if constexpr (std::is_same_v<T, limit_released>) {
          root.setReleased();
        } else {
          root.setWaiting(body.waiting);
          auto list = root.initStats(static_cast<unsigned>(body.limits.size()));
          for (unsigned i = 0; i < body.limits.size(); ++i)
            net_internal::put_limit_stats(list[i], body.limits[i]);
        }
      },
      reply.body);
  return to_bytes(message);
}

std::vector<char> encode(const worker_limits& limits) {
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<s::WorkerLimits>();
  root.setRandom(limits.lb == load_balancing::random);
  root.setWorkerOffset(limits.worker_offset);
  auto sets = root.initSets(static_cast<unsigned>(limits.sets.size()));
  for (unsigned i = 0; i < limits.sets.size(); ++i)
    net_internal::put_limit_set(sets[i], limits.sets[i]);
  return to_bytes(message);
}

limit_request decode_limit_request(const std::vector<char>& bytes) {
  return decoding(bytes, [](capnp::MessageReader& reader) {
    auto root = reader.getRoot<s::LimitRequest>();
    limit_request out;
    out.id = root.getId();
    switch (root.which()) {
    case s::LimitRequest::ACQUIRE: {
      auto a = root.getAcquire();
      limit_acquire acq;
      acq.requested = get_amounts(a.getAmounts());
      if (a.getTimeoutNs() >= 0)
        acq.timeout = std::chrono::nanoseconds{a.getTimeoutNs()};
      acq.try_only = a.getTryOnly();
      out.body = std::move(acq);
      break;
    }
    case s::LimitRequest::RELEASE: {
      auto r = root.getRelease();
      limit_release rel;
      rel.grant = r.getGrant();
      if (r.getHasUsage())
        rel.usage = get_amounts(r.getUsage());
      out.body = std::move(rel);
      break;
    }
    case s::LimitRequest::STATS:
      out.body = limit_stats_request{};
      break;
    default:
      throw decode_error{"a limit request of an unknown kind"};
    }
    return out;
  });
}

limit_reply decode_limit_reply(const std::vector<char>& bytes) {
  return decoding(bytes, [](capnp::MessageReader& reader) {
    auto root = reader.getRoot<s::LimitReply>();
    limit_reply out;
    out.id = root.getId();
    switch (root.which()) {
    case s::LimitReply::GRANTED: {
      auto g = root.getGranted();
      out.body = limit_granted{g.getGrant(), get_amounts(g.getAmounts())};
      break;
    }
    case s::LimitReply::REFUSED:
      out.body = limit_refused{};
      break;
    case s::LimitReply::ERROR: {
      auto e = root.getError();
      limit_failure f;
      f.message = e.getMessage().cStr();
      switch (e.getKind()) {
      case s::Error::Kind::TIMEOUT:
        f.what = limit_failure::kind::timeout;
        break;
      case s::Error::Kind::INVALID:
        f.what = limit_failure::kind::invalid;
        break;
      default:
        f.what = limit_failure::kind::internal;
      }
      out.body = std::move(f);
      break;
    }
    case s::LimitReply::RELEASED:
      out.body = limit_released{};
      break;
    case s::LimitReply::STATS: {
      limit_set_stats st;
      st.waiting = root.getWaiting();
      for (auto l : root.getStats())
        st.limits.push_back(net_internal::get_limit_stats(l));
      out.body = std::move(st);
      break;
    }
    default:
      throw decode_error{"a limit reply of an unknown kind"};
    }
    return out;
  });
}

worker_limits decode_worker_limits(const std::vector<char>& bytes) {
  return decoding(bytes, [](capnp::MessageReader& reader) {
    auto root = reader.getRoot<s::WorkerLimits>();
    worker_limits out;
    out.lb = root.getRandom() ? load_balancing::random : load_balancing::round_robin;
    out.worker_offset = static_cast<std::size_t>(root.getWorkerOffset());
    for (auto set : root.getSets())
      out.sets.push_back(net_internal::get_limit_set(set));
    return out;
  });
}

} // namespace concurry::net
