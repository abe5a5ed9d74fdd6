#include "net/call_messages.hpp"

#include "net/internal/flat_message.hpp"
#include "schema/call.capnp.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/array.h>
#include <kj/exception.h>

#include <algorithm>
#include <cstring>
#include <type_traits>

namespace concurry::net {

namespace {

namespace s = schema;
using internal::as_text;
using internal::overloaded;
using internal::to_bytes;

// -- encoding -----------------------------------------------------------------

capnp::Data::Reader as_data(const std::vector<std::byte>& bytes) {
  return {reinterpret_cast<const kj::byte*>(bytes.data()), bytes.size()};
}

void put_exception(s::ExceptionInfo::Builder out, const exception_info& in) {
  out.setTypeName(as_text(in.type_name));
  out.setMessage(as_text(in.message));
  out.setRegistered(in.registered);
}

// One segment of exactly the batch's size: batch_size() is then the size of the flat array.
template <class Root>
std::vector<char> encode_batch(const message_batch& m) {
  std::size_t bytes = 0;
  for (auto& one : m.messages)
    bytes += (one.size() + 7) / 8 * 8;
  capnp::MallocMessageBuilder builder{
      static_cast<unsigned>(batch_size(m.messages.size(), bytes) / sizeof(capnp::word))};
  auto list = builder.initRoot<Root>().initBatch(static_cast<unsigned>(m.messages.size()));
  for (unsigned i = 0; i < m.messages.size(); ++i)
    list.set(i, {reinterpret_cast<const kj::byte*>(m.messages[i].data()), m.messages[i].size()});
  auto words = capnp::messageToFlatArray(builder);
  auto chars = words.asChars();
  return {chars.begin(), chars.end()};
}

// Runs of small messages become batches that stay within `limit`; see pack_to_host.
template <class Root>
std::vector<std::vector<char>> pack(std::vector<std::vector<char>> messages, std::size_t limit) {
  if (messages.size() < 2)
    return messages;
  limit = std::min(limit, max_batch_bytes);
  std::vector<std::vector<char>> out;
  message_batch run;
  std::size_t run_bytes = 0;
  auto close_run = [&] {
    if (run.messages.size() == 1)
      out.push_back(std::move(run.messages.front()));
    else if (run.messages.size() > 1)
      out.push_back(encode_batch<Root>(run));
    run.messages.clear();
    run_bytes = 0;
  };
  for (auto& one : messages) {
    if (one.size() > max_batched_message || batch_size(1, one.size()) > limit) {
      close_run();
      out.push_back(std::move(one));
      continue;
    }
    if (batch_size(run.messages.size() + 1, run_bytes + one.size()) > limit)
      close_run();
    run_bytes += one.size();
    run.messages.push_back(std::move(one));
  }
  close_run();
  return out;
}

// -- decoding -----------------------------------------------------------------

// Text may hold NUL bytes: take its size, not its first NUL.
std::string get_text(capnp::Text::Reader text) {
  return {text.begin(), text.size()};
}

std::vector<std::byte> get_data(capnp::Data::Reader data) {
  auto* p = reinterpret_cast<const std::byte*>(data.begin());
  return {p, p + data.size()};
}

exception_info get_exception(s::ExceptionInfo::Reader in) {
  return {get_text(in.getTypeName()), get_text(in.getMessage()), in.getRegistered()};
}

message_batch get_batch(capnp::List<capnp::Data>::Reader list) {
  message_batch out;
  out.messages.reserve(list.size());
  for (auto data : list) {
    auto* p = reinterpret_cast<const char*>(data.begin());
    out.messages.emplace_back(p, p + data.size());
  }
  return out;
}

to_host read(s::ToHost::Reader root) {
  switch (root.which()) {
  case s::ToHost::CONSTRUCT: {
    auto c = root.getConstruct();
    return construct_worker{c.getPoolId(),
                            c.getWorkerIndex(),
                            get_text(c.getWorkerType()),
                            get_data(c.getArguments()),
                            c.getMaxMessageSize()};
  }
  case s::ToHost::CALL: {
    auto c = root.getCall();
    return host_call{c.getCallId(),
                     c.getPoolId(),
                     c.getWorkerIndex(),
                     c.getMethodIndex(),
                     get_text(c.getMethodName()),
                     c.getAttempt(),
                     get_data(c.getArguments()),
                     get_text(c.getTask())};
  }
  case s::ToHost::CANCEL:
    return cancel_call{root.getCancel().getCallId()};
  case s::ToHost::STOP:
    return stop_worker{};
  case s::ToHost::BATCH:
    return get_batch(root.getBatch());
  }
  throw decode_error{"a message to a worker host of an unknown kind"};
}

from_host read(s::FromHost::Reader root) {
  switch (root.which()) {
  case s::FromHost::CONSTRUCTED: {
    auto c = root.getConstructed();
    worker_constructed out{c.getPoolId(), c.getWorkerIndex(), std::nullopt};
    switch (c.which()) {
    case s::WorkerConstructed::OK:
      return out;
    case s::WorkerConstructed::FAILURE:
      out.failure = get_exception(c.getFailure());
      return out;
    }
    throw decode_error{"a worker-constructed message of an unknown kind"};
  }
  case s::FromHost::RESULT: {
    auto r = root.getResult();
    return call_result{r.getCallId(), get_data(r.getValue()), get_text(r.getRejection())};
  }
  case s::FromHost::ERROR: {
    auto e = root.getError();
    return call_error{e.getCallId(), get_exception(e.getException()), e.getRetry()};
  }
  case s::FromHost::STOPPED:
    return worker_stopped{};
  case s::FromHost::BATCH:
    return get_batch(root.getBatch());
  case s::FromHost::OUTPUT: {
    auto o = root.getOutput();
    auto where = o.getStream();
    if (where != s::OutputLine::Stream::STDOUT && where != s::OutputLine::Stream::STDERR)
      throw decode_error{"an output line on an unknown stream"};
    return output_line{where == s::OutputLine::Stream::STDOUT ? output_line::stream::out
                                                              : output_line::stream::err,
                       get_text(o.getLine())};
  }
  }
  throw decode_error{"a message from a worker host of an unknown kind"};
}

template <class Root>
auto decode_root(const std::vector<char>& bytes, const char* what) {
  return internal::read_flat(
      bytes, what, [](capnp::MessageReader& reader) { return read(reader.getRoot<Root>()); });
}

} // namespace

std::vector<char> encode(const to_host& message) {
  if (auto* batch = std::get_if<message_batch>(&message))
    return encode_batch<s::ToHost>(*batch);
  capnp::MallocMessageBuilder builder;
  auto root = builder.initRoot<s::ToHost>();
  std::visit(overloaded{
                 [&](const construct_worker& m) {
                   auto c = root.initConstruct();
                   c.setPoolId(m.pool_id);
                   c.setWorkerIndex(m.worker_index);
                   c.setWorkerType(as_text(m.worker_type));
                   c.setArguments(as_data(m.arguments));
                   c.setMaxMessageSize(m.max_message_size);
                 },
                 [&](const host_call& m) {
                   auto c = root.initCall();
                   c.setCallId(m.call_id);
                   c.setPoolId(m.pool_id);
                   c.setWorkerIndex(m.worker_index);
                   c.setMethodIndex(m.method_index);
                   c.setMethodName(as_text(m.method_name));
                   c.setAttempt(m.attempt);
                   c.setArguments(as_data(m.arguments));
                   c.setTask(as_text(m.task));
                 },
                 [&](const cancel_call& m) { root.initCancel().setCallId(m.call_id); },
                 [&](const stop_worker&) { root.setStop(); },
                 [&](const message_batch&) {}, // encoded above
             },
             message);
  return to_bytes(builder);
}

std::vector<char> encode(const from_host& message) {
  if (auto* batch = std::get_if<message_batch>(&message))
    return encode_batch<s::FromHost>(*batch);
  capnp::MallocMessageBuilder builder;
  auto root = builder.initRoot<s::FromHost>();
  std::visit(overloaded{
                 [&](const worker_constructed& m) {
                   auto c = root.initConstructed();
                   c.setPoolId(m.pool_id);
                   c.setWorkerIndex(m.worker_index);
                   if (m.failure)
                     put_exception(c.initFailure(), *m.failure);
                   else
                     c.setOk();
                 },
                 [&](const call_result& m) {
                   auto r = root.initResult();
                   r.setCallId(m.call_id);
                   r.setValue(as_data(m.value));
                   r.setRejection(as_text(m.rejection));
                 },
                 [&](const call_error& m) {
                   auto e = root.initError();
                   e.setCallId(m.call_id);
                   put_exception(e.initException(), m.exception);
                   e.setRetry(m.retry);
                 },
                 [&](const worker_stopped&) { root.setStopped(); },
                 [&](const output_line& m) {
                   auto o = root.initOutput();
                   o.setStream(m.where == output_line::stream::out ? s::OutputLine::Stream::STDOUT
                                                                   : s::OutputLine::Stream::STDERR);
                   o.setLine(as_text(m.line));
                 },
                 [&](const message_batch&) {}, // encoded above
             },
             message);
  return to_bytes(builder);
}

to_host decode_to_host(const std::vector<char>& bytes) {
  return decode_root<s::ToHost>(bytes, "message to a worker host");
}

from_host decode_from_host(const std::vector<char>& bytes) {
  return decode_root<s::FromHost>(bytes, "message from a worker host");
}

std::vector<std::vector<char>> pack_to_host(std::vector<std::vector<char>> messages,
                                            std::size_t limit) {
  return pack<s::ToHost>(std::move(messages), limit);
}

std::vector<std::vector<char>> pack_from_host(std::vector<std::vector<char>> messages,
                                              std::size_t limit) {
  return pack<s::FromHost>(std::move(messages), limit);
}

std::optional<std::uint64_t> peek_call_id(const std::vector<char>& bytes) noexcept {
  if (bytes.empty() || bytes.size() % sizeof(capnp::word) != 0)
    return std::nullopt;
  try {
    auto words = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
    std::memcpy(words.begin(), bytes.data(), bytes.size());
    capnp::ReaderOptions options;
    options.traversalLimitInWords = 4 * words.size() + 1024;
    capnp::FlatArrayMessageReader reader{words, options};
    auto root = reader.getRoot<s::ToHost>();
    switch (root.which()) {
    case s::ToHost::CALL:
      return root.getCall().getCallId();
    case s::ToHost::CANCEL:
      return root.getCancel().getCallId();
    default:
      return std::nullopt;
    }
  } catch (...) {
    // Anything the reader throws (kj::Exception, std::bad_alloc) means no id can be read.
    return std::nullopt;
  }
}

} // namespace concurry::net
