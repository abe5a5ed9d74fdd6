// Calls seen from another process: their arguments encoded, their results completed from bytes.
#include <concurry/detail/call.hpp>

#include <concurry/concurry.hpp>

#include <doctest/doctest.h>

#include <string>
#include <tuple>
#include <vector>

namespace {

class texts : public concurry::worker<texts> {
public:
  std::string join(const std::string& a, std::vector<int> b) {
    return a + std::to_string(b.size());
  }
  void nothing() {}
};
CONCURRY_WORKER(texts, (), join, nothing)

template <class R, class M, class... A>
auto* make_op(M method, A... args) {
  using args_t = std::tuple<A...>;
  return new concurry::detail::call_op<R, texts, M, args_t>(method, std::move(args)...);
}

} // namespace

TEST_CASE("a call's arguments encode as the tuple of its values") {
  auto* op = make_op<std::string>(&texts::join, std::string{"n="}, std::vector<int>{1, 2, 3});
  concurry::future<std::string> f = concurry::detail::make_future(
      concurry::detail::state_ptr<concurry::detail::value_state<std::string>>{op});
  CHECK(op->encode_arguments() ==
        concurry::encode(std::tuple{std::string{"n="}, std::vector<int>{1, 2, 3}}));
  // A result from another process completes the future once it is published.
  op->attempt = 1;
  CHECK(op->settle_remote(concurry::encode(std::string{"n=3"}), nullptr) ==
        concurry::detail::run_result::stored);
  CHECK_FALSE(f.done());
  op->publish(op->stored_status());
  CHECK(f.result() == "n=3");
  CHECK(op->settle_remote(concurry::encode(std::string{"again"}), nullptr) ==
        concurry::detail::run_result::lost);
  op->release(); // the queue's reference
}

TEST_CASE("bytes that are not the call's result type fail it with codec_error") {
  auto* op = make_op<std::string>(&texts::join, std::string{"n="}, std::vector<int>{1});
  concurry::future<std::string> f = concurry::detail::make_future(
      concurry::detail::state_ptr<concurry::detail::value_state<std::string>>{op});
  op->attempt = 1;
  CHECK(op->settle_remote(concurry::encode(42.5), nullptr) == concurry::detail::run_result::stored);
  op->publish(op->stored_status());
  CHECK_THROWS_AS(f.result(), concurry::codec_error);
  op->release();
}

TEST_CASE("a void call completes from empty bytes only") {
  auto* op = make_op<void>(&texts::nothing);
  concurry::future<void> f = concurry::detail::make_future(
      concurry::detail::state_ptr<concurry::detail::value_state<void>>{op});
  CHECK(op->encode_arguments().empty());
  op->attempt = 1;
  CHECK(op->settle_remote({}, nullptr) == concurry::detail::run_result::stored);
  op->publish(op->stored_status());
  CHECK(f.done());
  f.result();
  op->release();
}

TEST_CASE("a void call fails on result bytes") {
  auto* op = make_op<void>(&texts::nothing);
  concurry::future<void> f = concurry::detail::make_future(
      concurry::detail::state_ptr<concurry::detail::value_state<void>>{op});
  op->attempt = 1;
  CHECK(op->settle_remote(concurry::encode(1), nullptr) == concurry::detail::run_result::stored);
  op->publish(op->stored_status());
  CHECK_THROWS_AS(f.result(), concurry::codec_error);
  op->release();
}

TEST_CASE("worker_died crosses a process boundary as itself") {
  auto info = concurry::describe_exception(
      std::make_exception_ptr(concurry::worker_died{"worker 1 was killed by signal 9"}));
  CHECK(info.registered);
  CHECK_THROWS_WITH_AS(std::rethrow_exception(concurry::rebuild_exception(info)),
                       "worker 1 was killed by signal 9",
                       concurry::worker_died);
}
