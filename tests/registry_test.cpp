#include "modes.hpp"
#include "test_workers.hpp"

#include <concurry/concurry.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

namespace geometry {
struct point {
  double x = 0;
  double y = 0;
};
CONCURRY_TYPE(point, x, y)

struct path {
  std::string name;
  std::vector<point> points;
};
CONCURRY_TYPE(path, name, points)

struct opaque {
  int* p = nullptr;
};
} // namespace geometry

// What can cross a process boundary, decided at compile time.
static_assert(concurry::is_transferable_v<int>);
static_assert(concurry::is_transferable_v<const std::string&>);
static_assert(
    concurry::is_transferable_v<std::map<std::string, std::vector<std::optional<double>>>>);
static_assert(concurry::is_transferable_v<std::tuple<int, std::pair<float, std::string>>>);
static_assert(concurry::is_transferable_v<std::variant<int, std::string>>);
static_assert(concurry::is_transferable_v<geometry::path>);
static_assert(!concurry::is_transferable_v<int*>);
static_assert(!concurry::is_transferable_v<std::unique_ptr<int>>);
static_assert(!concurry::is_transferable_v<std::function<void()>>);
static_assert(!concurry::is_transferable_v<geometry::opaque>);
static_assert(!concurry::is_transferable_v<std::vector<geometry::opaque>>);

namespace {

class plotter : public concurry::worker<plotter> {
public:
  explicit plotter(geometry::point origin) : origin_{origin} {}
  double length(const geometry::path& p) const {
    double total = 0;
    for (auto& q : p.points)
      total += std::abs(q.x - origin_.x) + std::abs(q.y - origin_.y);
    return total;
  }

private:
  geometry::point origin_;
};
CONCURRY_WORKER(plotter, (geometry::point), length)

/// Takes several constructor arguments and parameters of every reference kind.
class greeter : public concurry::worker<greeter> {
public:
  greeter(std::string greeting, int times) : greeting_{std::move(greeting)}, times_{times} {}
  std::string greet(const std::string& name) const {
    std::string out;
    for (int i = 0; i < times_; ++i)
      out += greeting_ + " " + name + "! ";
    return out;
  }
  std::string join(const std::string& text, std::string&& suffix) { return text + suffix; }
  std::size_t consume(std::vector<int> values) { return values.size(); }

private:
  std::string greeting_;
  int times_;
};
CONCURRY_WORKER(greeter, (std::string, int), greet, join, consume)

/// Has no methods to register.
class idle : public concurry::worker<idle> {};
CONCURRY_WORKER(idle, ())

} // namespace

TEST_CASE_TEMPLATE("a worker takes several constructor arguments and reference parameters",
                   M,
                   CONCURRY_POOL_MODES) {
  auto pool = greeter::options().mode(M::value).max_workers(2).init(std::string{"hello"}, 2);
  CHECK(pool.call(&greeter::greet, "ada").result() == "hello ada! hello ada! ");
  CHECK(pool.call(&greeter::join, std::string{"a"}, std::string{"b"}).result() == "ab");
  CHECK(pool.call(&greeter::consume, std::vector<int>{1, 2, 3}).result() == 3);
  auto* info = concurry::find_registered_worker("greeter");
  REQUIRE(info);
  CHECK(info->constructor_arity == 2);
}

TEST_CASE_TEMPLATE("a worker registered without methods still builds a pool",
                   M,
                   CONCURRY_POOL_MODES) {
  auto pool = idle::options().mode(M::value).max_workers(1).init();
  CHECK(pool.stats().total_workers == 1);
  CHECK(concurry::find_registered_worker("idle")->method_names.empty());
}

TEST_CASE("registration records the worker's name, methods and constructor arity") {
  auto* info = concurry::find_registered_worker("plotter");
  REQUIRE(info);
  CHECK(info->method_names == std::vector<std::string>{"length"});
  CHECK(info->constructor_arity == 1);
  CHECK_FALSE(info->local_only);
  auto* counter = concurry::find_registered_worker("counter");
  REQUIRE(counter);
  CHECK(counter->method_names == std::vector<std::string>{"count", "seen", "index"});
  auto* gate = concurry::find_registered_worker("gate");
  REQUIRE(gate);
  CHECK(gate->local_only);
  CHECK_FALSE(concurry::find_registered_worker("no_such_worker"));
}

TEST_CASE_TEMPLATE("a worker with user types in its signature runs with them",
                   M,
                   CONCURRY_POOL_MODES) {
  auto pool = plotter::options().mode(M::value).max_workers(2).init(geometry::point{1, 1});
  geometry::path p{"square", {{0, 0}, {2, 0}, {2, 2}}};
  CHECK(pool.call(&plotter::length, p).result() == doctest::Approx(2 + 2 + 2));
}

TEST_CASE("a registered worker is built and called by name with encoded values") {
  auto* info = concurry::find_registered_worker("greeter");
  REQUIRE(info != nullptr);
  REQUIRE(info->construct);
  REQUIRE(info->invoke.size() == 3);
  auto w = info->construct(concurry::encode(std::tuple{std::string{"hi"}, 2}));
  REQUIRE(w != nullptr);
  auto greeted = info->invoke[0](*w, concurry::encode(std::tuple{std::string{"Ann"}}));
  CHECK(concurry::decode<std::string>(greeted) == "hi Ann! hi Ann! ");
  auto joined =
      info->invoke[1](*w, concurry::encode(std::tuple{std::string{"a"}, std::string{"b"}}));
  CHECK(concurry::decode<std::string>(joined) == "ab");
  auto counted = info->invoke[2](*w, concurry::encode(std::tuple{std::vector<int>{1, 2, 3}}));
  CHECK(concurry::decode<std::size_t>(counted) == 3);
  // Bytes that are not the method's arguments fail with codec_error, and nothing runs.
  CHECK_THROWS_AS(info->invoke[2](*w, concurry::encode(std::tuple{1.5})), concurry::codec_error);
  CHECK_THROWS_AS(info->construct(concurry::encode(std::tuple{7})), concurry::codec_error);

  auto* no_methods = concurry::find_registered_worker("idle");
  REQUIRE(no_methods != nullptr);
  CHECK(no_methods->construct);
  CHECK(no_methods->invoke.empty());
  // A local-only worker cannot be built in another process.
  auto* local = concurry::find_registered_worker("gate");
  REQUIRE(local != nullptr);
  CHECK_FALSE(local->construct);
  // Task workers can: they run registered task functions there.
  auto* tasks = concurry::find_registered_worker("task_worker");
  REQUIRE(tasks != nullptr);
  CHECK(tasks->construct);
}

namespace registry_tasks {

std::string repeat(const std::string& text, int times) {
  std::string out;
  for (int i = 0; i < times; ++i)
    out += text;
  return out;
}
CONCURRY_TASK(repeat)

int first_twin(int x) {
  return x;
}
int second_twin(int x) {
  return -x;
}

} // namespace registry_tasks

TEST_CASE("a registered task is found by name and runs with encoded values") {
  const auto* task = concurry::find_registered_task("repeat");
  REQUIRE(task != nullptr);
  CHECK(task->name == "repeat");
  CHECK_FALSE(task->ambiguous);
  auto out = task->invoke(concurry::encode(std::tuple{std::string{"ab"}, 3}));
  CHECK(concurry::decode<std::string>(out) == "ababab");
  CHECK_THROWS_AS(task->invoke(concurry::encode(std::tuple{1.5})), concurry::codec_error);
  CHECK(concurry::find_registered_task("no_such_task") == nullptr);
  CHECK(concurry::detail::registered_task_name(&registry_tasks::repeat) == "repeat");
}

TEST_CASE("two functions registered under one name cannot run in another process") {
  using namespace registry_tasks;
  auto as_task = [](auto fn) { return reinterpret_cast<concurry::detail::task_address>(fn); };
  auto info = [](const char* name) {
    concurry::task_info t;
    t.name = name;
    return t;
  };
  CHECK(concurry::detail::add_registered_task(info("twin_for_test"), as_task(&first_twin)));
  // The same function again is one registration.
  CHECK_FALSE(concurry::detail::add_registered_task(info("twin_for_test"), as_task(&first_twin)));
  CHECK_FALSE(concurry::find_registered_task("twin_for_test")->ambiguous);
  CHECK(concurry::detail::add_registered_task(info("twin_for_test"), as_task(&second_twin)));
  CHECK(concurry::find_registered_task("twin_for_test")->ambiguous);
  CHECK_THROWS_WITH_AS(concurry::detail::registered_task_name(&first_twin),
                       doctest::Contains("two functions are registered as task twin_for_test"),
                       concurry::config_error);
  CHECK_THROWS_AS(concurry::detail::registered_task_name(&second_twin), concurry::config_error);
}
