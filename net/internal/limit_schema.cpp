#include "net/internal/limit_schema.hpp"

#include "net/limit_messages.hpp"

#include <chrono>
#include <set>
#include <string>
#include <variant>

namespace concurry::net_internal {

namespace {

namespace s = net::schema;

s::LimitSpec::Algorithm put_algorithm(rate_algorithm a) {
  switch (a) {
  case rate_algorithm::token_bucket:
    return s::LimitSpec::Algorithm::TOKEN_BUCKET;
  case rate_algorithm::leaky_bucket:
    return s::LimitSpec::Algorithm::LEAKY_BUCKET;
  case rate_algorithm::sliding_window:
    return s::LimitSpec::Algorithm::SLIDING_WINDOW;
  case rate_algorithm::fixed_window:
    return s::LimitSpec::Algorithm::FIXED_WINDOW;
  case rate_algorithm::gcra:
    return s::LimitSpec::Algorithm::GCRA;
  }
  return s::LimitSpec::Algorithm::SLIDING_WINDOW;
}

rate_algorithm get_algorithm(s::LimitSpec::Algorithm a) {
  switch (a) {
  case s::LimitSpec::Algorithm::TOKEN_BUCKET:
    return rate_algorithm::token_bucket;
  case s::LimitSpec::Algorithm::LEAKY_BUCKET:
    return rate_algorithm::leaky_bucket;
  case s::LimitSpec::Algorithm::SLIDING_WINDOW:
    return rate_algorithm::sliding_window;
  case s::LimitSpec::Algorithm::FIXED_WINDOW:
    return rate_algorithm::fixed_window;
  case s::LimitSpec::Algorithm::GCRA:
    return rate_algorithm::gcra;
  }
  throw net::decode_error{"a limit of an unknown rate algorithm"};
}

void put_limit(s::LimitSpec::Builder out, const limit& in) {
  if (auto* c = std::get_if<call_limit>(&in)) {
    out.setKind(s::LimitSpec::Kind::CALL);
    out.setKey(c->key());
    out.setCapacity(c->capacity());
    out.setWindowNs(c->window().count());
    out.setAlgorithm(put_algorithm(c->algorithm()));
  } else if (auto* r = std::get_if<rate_limit>(&in)) {
    out.setKind(s::LimitSpec::Kind::RATE);
    out.setKey(r->key());
    out.setCapacity(r->capacity());
    out.setWindowNs(r->window().count());
    out.setAlgorithm(put_algorithm(r->algorithm()));
  } else {
    auto& res = std::get<resource_limit>(in);
    out.setKind(s::LimitSpec::Kind::RESOURCE);
    out.setKey(res.key());
    out.setCapacity(res.capacity());
  }
}

// The limit's own constructor checks the values; what it refuses is a malformed message here.
limit get_limit(s::LimitSpec::Reader in) {
  std::chrono::nanoseconds window{in.getWindowNs()};
  try {
    switch (in.getKind()) {
    case s::LimitSpec::Kind::CALL:
      return call_limit{window, in.getCapacity(), get_algorithm(in.getAlgorithm())};
    case s::LimitSpec::Kind::RATE:
      return rate_limit{
          in.getKey().cStr(), window, in.getCapacity(), get_algorithm(in.getAlgorithm())};
    case s::LimitSpec::Kind::RESOURCE:
      return resource_limit{in.getKey().cStr(), in.getCapacity()};
    }
  } catch (const config_error& e) {
    throw net::decode_error{std::string{"a limit that is not valid: "} + e.what()};
  }
  throw net::decode_error{"a limit of an unknown kind"};
}

} // namespace

void put_limit_set(s::LimitSetSpec::Builder out, const std::vector<limit>& in) {
  auto list = out.initLimits(static_cast<unsigned>(in.size()));
  for (unsigned i = 0; i < in.size(); ++i)
    put_limit(list[i], in[i]);
}

void put_limit_stats(s::LimitStats::Builder out, const limit_stats& in) {
  out.setKind(in.kind);
  out.setKey(in.key);
  out.setAlgorithm(in.algorithm);
  out.setCapacity(in.capacity);
  out.setWindowSeconds(in.window_seconds);
  out.setInUse(in.in_use);
  out.setAvailable(in.available);
  out.setUtilization(in.utilization);
  out.setMaxRate(in.max_rate);
}

std::vector<limit> get_limit_set(s::LimitSetSpec::Reader in) {
  std::vector<limit> out;
  std::set<std::string> keys;
  for (auto one : in.getLimits()) {
    out.push_back(get_limit(one));
    auto& key = std::visit([](auto& l) -> const std::string& { return l.key(); }, out.back());
    if (!keys.insert(key).second)
      throw net::decode_error{"a limit set with two limits of key '" + key + "'"};
  }
  return out;
}

limit_stats get_limit_stats(s::LimitStats::Reader in) {
  limit_stats out;
  out.kind = in.getKind().cStr();
  out.key = in.getKey().cStr();
  out.algorithm = in.getAlgorithm().cStr();
  out.capacity = in.getCapacity();
  out.window_seconds = in.getWindowSeconds();
  out.in_use = in.getInUse();
  out.available = in.getAvailable();
  out.utilization = in.getUtilization();
  out.max_rate = in.getMaxRate();
  return out;
}

} // namespace concurry::net_internal
