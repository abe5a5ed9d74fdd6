#include "actors/host_worker.hpp"

#include "actors/log.hpp"
#include "net/call_messages.hpp"

#include <concurry/codec.hpp>
#include <concurry/config.hpp>
#include <concurry/error.hpp>
#include <concurry/exceptions.hpp>
#include <concurry/registry.hpp>
#include <concurry/worker.hpp>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <variant>

namespace concurry::actors {

namespace {

template <class E>
exception_info describe(E e) {
  return describe_exception(std::make_exception_ptr(std::move(e)));
}

std::span<const std::byte> as_span(const std::vector<std::byte>& bytes) {
  return {bytes.data(), bytes.size()};
}

// The limit a construct message asks for; 0 (a client that predates the field) is the default.
std::size_t message_limit(std::uint64_t asked) {
  if (asked == 0)
    return default_max_message_size;
  return static_cast<std::size_t>(
      std::clamp<std::uint64_t>(asked, smallest_max_message_size, largest_max_message_size));
}

// An exception's message cut to fit in a message of `limit` bytes with room to spare.
void shorten(exception_info& why, std::size_t limit) {
  auto room = limit / 2;
  if (why.message.size() + why.type_name.size() <= room)
    return;
  why.type_name.resize(std::min(why.type_name.size(), room / 4));
  why.message.resize(room / 2);
  why.message += " [cut to fit max_message_size]";
}

} // namespace

struct host_worker::impl {
  int index = 0;
  reply_fn reply;

  mutable std::mutex mutex;
  std::condition_variable wake;
  std::deque<net::to_host> queue;          // guarded
  bool closing = false;                    // guarded
  std::function<limit_pool()> make_limits; // guarded

  // Touched by the worker thread only.
  const worker_type_info* type = nullptr;
  std::unique_ptr<worker_base> object;
  // The largest FromHost message; the construct message sets it.
  std::size_t max_message = default_max_message_size;

  void answer(const net::from_host& message) {
    try {
      reply(net::encode(message));
    } catch (const std::exception& e) {
      logger("net")->error("could not answer the client worker={} error={}", index, e.what());
    }
  }

  void answer(std::vector<char> bytes) {
    try {
      reply(std::move(bytes));
    } catch (const std::exception& e) {
      logger("net")->error("could not answer the client worker={} error={}", index, e.what());
    }
  }

  void fail_call(std::uint64_t call_id, exception_info why) {
    shorten(why, max_message);
    answer(net::call_error{call_id, std::move(why), /*retry=*/false});
  }

  // The bytes of the result message; throws message_too_large past max_message.
  std::vector<char> result_message(const net::host_call& m, std::vector<std::byte> value) {
    auto size = value.size();
    if (size <= max_message) {
      auto bytes = net::encode(net::from_host{net::call_result{m.call_id, std::move(value), {}}});
      if (bytes.size() <= max_message)
        return bytes;
      size = bytes.size();
    }
    throw message_too_large{
        "the result of " + type->name + "::" + type->method_names[m.method_index] +
        " does not fit in one message: " + std::to_string(size) +
        " bytes, more than max_message_size (" + std::to_string(max_message) + " bytes)"};
  }

  // -- on the worker thread ---------------------------------------------------------------------

  void run() {
    for (;;) {
      net::to_host message;
      {
        std::unique_lock lock{mutex};
        wake.wait(lock, [&] { return closing || !queue.empty(); });
        if (closing)
          break;
        message = std::move(queue.front());
        queue.pop_front();
      }
      std::visit([&](auto& m) { handle(m); }, message);
    }
    destroy_worker();
  }

  void handle(net::construct_worker& m) {
    max_message = message_limit(m.max_message_size);
    net::worker_constructed out{m.pool_id, m.worker_index, std::nullopt};
    if (object) {
      out.failure = describe(error{"the worker host already holds a worker; stop it first"});
      answer(out);
      return;
    }
    const auto* found = find_registered_worker(m.worker_type);
    if (!found || !found->construct) {
      out.failure = describe(error{"no worker type named '" + m.worker_type +
                                   "' is registered for process mode in the worker host"});
      answer(out);
      return;
    }
    std::function<limit_pool()> make_limits;
    {
      std::lock_guard guard{mutex};
      make_limits = std::exchange(this->make_limits, nullptr);
    }
    try {
      // The client's index of the worker (an on-demand worker's differs from its host's).
      detail::constructing_worker_context() = detail::worker_context{
          std::size_t(m.worker_index), make_limits ? make_limits() : limit_pool{}};
      object = found->construct(as_span(m.arguments));
      type = found;
    } catch (...) {
      out.failure = describe_exception(std::current_exception());
      shorten(*out.failure, max_message);
    }
    logger("net")->debug(
        "worker constructed worker={} type={} ok={}", index, m.worker_type, !out.failure);
    answer(out);
  }

  void handle(net::host_call& m) {
    if (!object) {
      fail_call(m.call_id, describe(error{"the worker host holds no worker"}));
      return;
    }
    if (!m.task.empty())
      return run_task(m);
    if (m.method_index >= type->invoke.size()) {
      fail_call(m.call_id,
                describe(error{"worker " + type->name + " has no method of index " +
                               std::to_string(m.method_index)}));
      return;
    }
    const auto& listed = type->method_names[m.method_index];
    if (!m.method_name.empty() && m.method_name != listed) {
      fail_call(m.call_id,
                describe(error{"method " + std::to_string(m.method_index) + " of worker " +
                               type->name + " is " + listed + ", not " + m.method_name}));
      return;
    }
    std::vector<char> bytes;
    try {
      bytes = result_message(m, type->invoke[m.method_index](*object, as_span(m.arguments)));
    } catch (...) {
      fail_call(m.call_id, describe_exception(std::current_exception()));
      return;
    }
    answer(std::move(bytes));
  }

  // A task worker's call: the registered free function of that name, not a method.
  void run_task(const net::host_call& m) {
    const auto* task = find_registered_task(m.task);
    if (!task) {
      fail_call(m.call_id,
                describe(config_error{"no function named '" + m.task +
                                      "' is registered with CONCURRY_TASK in the worker host"}));
      return;
    }
    if (task->ambiguous) {
      fail_call(m.call_id,
                describe(config_error{"two functions are registered as task " + m.task +
                                      " in the worker host; it cannot tell which to run"}));
      return;
    }
    try {
      answer(net::call_result{m.call_id, task->invoke(as_span(m.arguments)), {}});
    } catch (...) {
      fail_call(m.call_id, describe_exception(std::current_exception()));
    }
  }

  void handle(net::cancel_call&) {
    // receive() answers cancels itself; none is queued.
  }

  void handle(net::message_batch&) {
    // receive() queues the messages of a batch one by one; no batch is queued.
  }

  void handle(net::stop_worker&) {
    destroy_worker();
    answer(net::worker_stopped{});
  }

  void destroy_worker() {
    // NOTE: a destructor that throws ends the process (destructors are noexcept); the client
    // sees the host exit, as with any crash of user code.
    object.reset();
    type = nullptr;
  }

  // -- on the caller's thread -------------------------------------------------------------------

  // Drops the queued call `call_id`; false when it is not queued (running, done or unknown).
  bool drop_queued(std::uint64_t call_id) {
    std::lock_guard guard{mutex};
    for (auto it = queue.begin(); it != queue.end(); ++it) {
      auto* call = std::get_if<net::host_call>(&*it);
      if (call && call->call_id == call_id) {
        queue.erase(it);
        return true;
      }
    }
    return false;
  }

  void push(net::to_host message) {
    {
      std::lock_guard guard{mutex};
      queue.push_back(std::move(message));
    }
    wake.notify_one();
  }

  void receive(const std::vector<char>& bytes) {
    auto message = decode(bytes);
    if (!message)
      return;
    auto* batch = std::get_if<net::message_batch>(&*message);
    if (!batch)
      return take(std::move(*message));
    // The calls of a batch go to the worker's thread together, each as if it had come alone.
    std::vector<net::to_host> run;
    for (auto& one : batch->messages) {
      auto part = decode(one);
      if (part && std::holds_alternative<net::message_batch>(*part)) {
        logger("net")->error("a batch inside a batch from the client worker={}", index);
        continue;
      }
      if (part && std::holds_alternative<net::host_call>(*part)) {
        run.push_back(std::move(*part));
        continue;
      }
      // A cancel may name a call of this batch: the calls before it are queued first.
      push_all(run);
      if (part)
        take(std::move(*part));
    }
    push_all(run);
  }

  // The message in `bytes`; nullopt when they do not decode, which is logged and, when a call
  // id can be read, answered with a codec_error for that call.
  std::optional<net::to_host> decode(const std::vector<char>& bytes) {
    try {
      return net::decode_to_host(bytes);
    } catch (const std::exception& e) {
      auto call_id = net::peek_call_id(bytes);
      logger("net")->error("undecodable message from the client worker={} bytes={} call={} "
                           "error={}",
                           index,
                           bytes.size(),
                           call_id ? std::to_string(*call_id) : std::string{"none"},
                           e.what());
      if (call_id)
        fail_call(*call_id, describe(codec_error{e.what()}));
      return std::nullopt;
    }
  }

  // A single message: a cancel is answered here, anything else queued.
  void take(net::to_host message) {
    if (auto* cancel = std::get_if<net::cancel_call>(&message)) {
      if (drop_queued(cancel->call_id))
        fail_call(cancel->call_id, describe(cancelled_error{"the call was cancelled"}));
      return;
    }
    push(std::move(message));
  }

  void push_all(std::vector<net::to_host>& messages) {
    if (messages.empty())
      return;
    {
      std::lock_guard guard{mutex};
      for (auto& m : messages)
        queue.push_back(std::move(m));
    }
    messages.clear();
    wake.notify_one();
  }
};

host_worker::host_worker(int worker, reply_fn reply) : impl_{std::make_shared<impl>()} {
  impl_->index = worker;
  impl_->reply = std::move(reply);
  // The thread shares the state, so that it can finish its call even while the owner goes.
  std::thread{[state = impl_] { state->run(); }}.detach();
}

host_worker::~host_worker() {
  {
    std::lock_guard guard{impl_->mutex};
    impl_->closing = true;
    impl_->queue.clear();
  }
  impl_->wake.notify_one();
}

void host_worker::receive(const std::vector<char>& to_host_bytes) noexcept {
  try {
    impl_->receive(to_host_bytes);
  } catch (const std::exception& e) {
    // Only allocation failures get here.
    logger("net")->error(
        "a message from the client was dropped worker={} error={}", impl_->index, e.what());
  }
}

void host_worker::use_limits(std::function<limit_pool()> make) {
  std::lock_guard guard{impl_->mutex};
  impl_->make_limits = std::move(make);
}

std::size_t host_worker::queued() const {
  std::lock_guard guard{impl_->mutex};
  return impl_->queue.size();
}

} // namespace concurry::actors
