#include "net/host_messages.hpp"

#include "schema/host.capnp.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/array.h>
#include <kj/exception.h>

#include <cstring>

namespace concurry::net {

namespace {

namespace s = schema;

// Cap'n Proto reads 8-byte aligned words: copy the bytes into words first.
kj::Array<capnp::word> to_words(const std::vector<char>& bytes) {
  if (bytes.empty() || bytes.size() % sizeof(capnp::word) != 0)
    throw decode_error{"a host message of " + std::to_string(bytes.size()) +
                       " bytes is not a whole number of 8-byte words"};
  auto words = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), bytes.data(), bytes.size());
  return words;
}

host_message read(s::HostMessage::Reader root) {
  switch (root.which()) {
  case s::HostMessage::HELLO: {
    auto hello = root.getHello();
    return host_hello{hello.getSecret().cStr(), hello.getPid(), hello.getWorker()};
  }
  case s::HostMessage::PING:
    return host_ping{root.getPing().getSequence()};
  case s::HostMessage::PONG:
    return host_pong{root.getPong().getSequence()};
  case s::HostMessage::SHUTDOWN:
    return host_shutdown{};
  }
  throw decode_error{"a host message of an unknown kind"};
}

} // namespace

std::vector<char> encode(const host_message& message) {
  capnp::MallocMessageBuilder builder;
  auto root = builder.initRoot<s::HostMessage>();
  if (auto* hello = std::get_if<host_hello>(&message)) {
    auto out = root.initHello();
    out.setSecret(hello->secret);
    out.setPid(hello->pid);
    out.setWorker(hello->worker);
  } else if (auto* ping = std::get_if<host_ping>(&message)) {
    root.initPing().setSequence(ping->sequence);
  } else if (auto* pong = std::get_if<host_pong>(&message)) {
    root.initPong().setSequence(pong->sequence);
  } else {
    root.setShutdown();
  }
  auto words = capnp::messageToFlatArray(builder);
  auto bytes = words.asChars();
  return {bytes.begin(), bytes.end()};
}

host_message decode_host_message(const std::vector<char>& bytes) {
  auto words = to_words(bytes);
  try {
    capnp::FlatArrayMessageReader reader{words};
    return read(reader.getRoot<s::HostMessage>());
  } catch (const kj::Exception& e) {
    throw decode_error{std::string{"a malformed host message: "} + e.getDescription().cStr()};
  }
}

} // namespace concurry::net
