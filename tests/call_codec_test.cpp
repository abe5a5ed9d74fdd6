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
  // A result from another process completes the future.
  CHECK_THROWS_AS(op->complete_encoded(concurry::encode(42.5)), concurry::codec_error);
  CHECK_FALSE(f.done());
  CHECK(op->complete_encoded(concurry::encode(std::string{"n=3"})));
  CHECK(f.result() == "n=3");
  CHECK_FALSE(op->complete_encoded(concurry::encode(std::string{"again"})));
  op->release(); // the queue's reference
}

TEST_CASE("a void call completes from empty bytes only") {
  auto* op = make_op<void>(&texts::nothing);
  concurry::future<void> f = concurry::detail::make_future(
      concurry::detail::state_ptr<concurry::detail::value_state<void>>{op});
  CHECK(op->encode_arguments().empty());
  CHECK_THROWS_AS(op->complete_encoded(concurry::encode(1)), concurry::codec_error);
  CHECK(op->complete_encoded({}));
  CHECK(f.done());
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
