// Worker registration. One macro names a worker class, its constructor arguments and its
// methods, so that other processes and nodes can construct it and call it by name:
//
//     CONCURRY_WORKER(data_processor, (int), process, processed)
//
// It checks at compile time that every constructor argument, method argument and result can
// cross a process boundary (transfer.hpp). CONCURRY_LOCAL_WORKER has the same shape and accepts
// any types, but restricts the worker to sync and thread modes.
//
// Write either macro once, in the namespace of the class, after its definition, with no
// semicolon after it. Listed methods must not be overloaded.
//
// CONCURRY_TASK(fn) registers a free function by name, so that a task worker in another process
// can run it (task.hpp):
//
//     int square(int x) { return x * x; }
//     CONCURRY_TASK(square)
/// \file
/// Worker and task registration: CONCURRY_WORKER, CONCURRY_LOCAL_WORKER, CONCURRY_TASK and the
/// registry they fill.
#pragma once

#include <concurry/async.hpp>
#include <concurry/codec.hpp>
#include <concurry/detail/member_fn.hpp>
#include <concurry/detail/preprocessor.hpp>
#include <concurry/error.hpp>
#include <concurry/transfer.hpp>
#include <concurry/worker.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <typeindex>
#include <vector>

namespace concurry {

/// Builds a worker from its encoded constructor arguments (codec.hpp), as a worker host does.
using encoded_constructor = std::function<std::unique_ptr<worker_base>(std::span<const std::byte>)>;

/// Runs one method on a worker with encoded arguments and returns the encoded result (empty for
/// void). Throws codec_error for arguments that do not decode, and whatever the method throws.
using encoded_method =
    std::function<std::vector<std::byte>(worker_base&, std::span<const std::byte>)>;

/// What the registry knows of one worker type.
struct worker_type_info {
  std::string name;                      ///< the class name as written in the macro
  std::vector<std::string> method_names; ///< in the order of the macro
  std::size_t constructor_arity = 0;     ///< the number of constructor arguments
  bool local_only = false;               ///< registered with CONCURRY_LOCAL_WORKER
  /// Builds the worker by name in another process; empty for local-only workers.
  encoded_constructor construct;
  /// Per listed method, in the order of the macro: the call by index in another process; empty
  /// for local-only workers.
  std::vector<encoded_method> invoke;
};

/// Every worker type registered in this program, in registration order.
std::vector<worker_type_info> registered_workers();

/// The registered worker type of that name, or null.
const worker_type_info* find_registered_worker(std::string_view name);

/// Runs a registered task function with encoded arguments and returns its encoded result
/// (empty for void). Throws codec_error for arguments that do not decode, and whatever the
/// function throws.
using encoded_task = std::function<std::vector<std::byte>(std::span<const std::byte>)>;

/// What the registry knows of one task function (CONCURRY_TASK).
struct task_info {
  std::string name;       ///< the function's name as written in the macro
  encoded_task invoke;    ///< the call by name in another process
  bool ambiguous = false; ///< another function was registered under the same name
};

/// The registered task function of that name, or null. Lives as long as the program.
const task_info* find_registered_task(std::string_view name);

namespace detail {

template <class Signature>
struct constructor_args;
template <class... A>
struct constructor_args<void(A...)> {
  using type = std::tuple<std::decay_t<A>...>;
};

template <class Tuple>
struct all_transferable;
template <class... Ts>
struct all_transferable<std::tuple<Ts...>> : std::bool_constant<(is_transferable_v<Ts> && ...)> {};

template <class M>
constexpr bool method_transferable() {
  using fn = member_fn<M>;
  return all_transferable<typename fn::args>::value && is_transferable_v<typename fn::call_result>;
}

/// The descriptor type CONCURRY_WORKER generated for W, found by argument-dependent lookup.
template <class W>
using descriptor_of = decltype(concurry_worker_descriptor(static_cast<const W*>(nullptr)));

template <class W>
concept registered_worker = requires {
  concurry_worker_descriptor(static_cast<const W*>(nullptr));
};

/// Compile-time checks of one registration; returns true so it can feed a static_assert.
template <class D>
constexpr bool check_worker() {
  using W = typename D::worker_type;
  using ctor = typename constructor_args<typename D::constructor>::type;
  static_assert(std::is_base_of_v<worker<W>, W>,
                "concurry: a worker class must derive from concurry::worker<itself>");
  static_assert(
      []<class... A>(std::tuple<A...>*) {
        return std::is_constructible_v<W, A...>;
      }(static_cast<ctor*>(nullptr)),
      "concurry: the worker cannot be constructed from the constructor arguments named in the "
      "registration");
  if constexpr (!D::local_only) {
    static_assert(all_transferable<ctor>::value,
                  "concurry: a constructor argument of this worker cannot cross a process "
                  "boundary; make its type transferable with CONCURRY_TYPE, or register the "
                  "worker with CONCURRY_LOCAL_WORKER (sync and thread modes only)");
    static_assert(std::apply([](auto... m) { return (method_transferable<decltype(m)>() && ...); },
                             D::methods()),
                  "concurry: an argument or result of a method of this worker cannot cross a "
                  "process boundary; make its type transferable with CONCURRY_TYPE, or register "
                  "the worker with CONCURRY_LOCAL_WORKER (sync and thread modes only)");
  }
  return true;
}

/// The position of `m` among the methods listed in W's registration, or `unlisted` when it is
/// not listed.
template <class W, class M>
std::uint32_t method_index_of(M m, std::uint32_t unlisted) noexcept {
  std::uint32_t found = unlisted;
  std::uint32_t i = 0;
  std::apply(
      [&](auto... listed) {
        auto visit = [&](auto candidate) {
          if constexpr (std::is_same_v<decltype(candidate), M>)
            if (found == unlisted && candidate == m)
              found = i;
          ++i;
        };
        (visit(listed), ...);
      },
      descriptor_of<W>::methods());
  return found;
}

/// Adds a type to the registry; called once per registration during static initialisation.
bool add_registered_worker(worker_type_info info, std::type_index type);

/// A free function's address as the task registry keys it (in this process only: addresses
/// differ between processes, so only names cross).
using task_address = void (*)();

/// Adds a task function; called once per CONCURRY_TASK during static initialisation. A second
/// function under a taken name marks both as ambiguous (neither can then run in another
/// process); the same function twice is one registration.
bool add_registered_task(task_info info, task_address fn);

/// The registration of the function at `fn` in this process, or null.
const task_info* find_registered_task(task_address fn) noexcept;

/// The registered name of `fn`, which a task worker in another process runs it by. Throws
/// config_error when `fn` is not a function registered with CONCURRY_TASK (a lambda or function
/// object never is: its code cannot be named in another process) or its name is ambiguous.
template <class F>
std::string_view registered_task_name(const F& fn) {
  using P = std::decay_t<F>;
  if constexpr (free_fn<P>::is_function) {
    P pointer = fn;
    const auto* found = find_registered_task(reinterpret_cast<task_address>(pointer));
    if (!found)
      throw config_error{"in process mode a task worker runs only functions registered with "
                         "CONCURRY_TASK(name) at namespace scope; this function is not "
                         "registered"};
    if (found->ambiguous)
      throw config_error{"two functions are registered as task " + found->name +
                         " (CONCURRY_TASK); rename one of them to run it in process mode"};
    return found->name;
  } else {
    static_cast<void>(fn);
    throw config_error{"in process mode a task worker runs only free functions registered with "
                       "CONCURRY_TASK(name): a lambda or function object cannot cross a process "
                       "boundary; submit a pointer to a registered function instead"};
  }
}

/// Compile-time checks of a task function; returns true so it can feed a static_assert.
template <auto Fn>
constexpr bool check_task() {
  using fn = free_fn<decltype(Fn)>;
  static_assert(fn::is_function,
                "concurry: CONCURRY_TASK takes the name of a free function that is not "
                "overloaded");
  if constexpr (fn::is_function) {
    using R = awaited_result_t<typename fn::result_type>;
    static_assert(all_transferable<typename fn::decayed_args>::value,
                  "concurry: a parameter of this task function cannot cross a process boundary; "
                  "make its type transferable with CONCURRY_TYPE");
    static_assert(is_transferable_v<R>,
                  "concurry: the result of this task function cannot cross a process boundary; "
                  "make its type transferable with CONCURRY_TYPE");
  }
  return true;
}

/// Registers the function `Fn` as task `name`.
template <auto Fn>
bool register_task(const char* name) {
  using fn = free_fn<decltype(Fn)>;
  using R = awaited_result_t<typename fn::result_type>;
  task_info info;
  info.name = name;
  info.invoke = [](std::span<const std::byte> bytes) -> std::vector<std::byte> {
    auto args = decode<typename fn::decayed_args>(bytes);
    // Each decoded argument goes in as the parameter asks: moved into a by-value or rvalue
    // parameter, as an lvalue into a reference parameter.
    // A coroutine function runs to its end here, as a call in process mode does.
    auto call = [&]<class... P>(std::tuple<P...>*) -> decltype(auto) {
      return std::apply(
          [](auto&... a) -> decltype(auto) {
            if constexpr (is_task_v<std::decay_t<typename fn::result_type>>)
              return concurry::run(Fn(static_cast<P&&>(a)...));
            else
              return Fn(static_cast<P&&>(a)...);
          },
          args);
    };
    auto* params = static_cast<typename fn::args*>(nullptr);
    if constexpr (std::is_void_v<R>) {
      call(params);
      return {};
    } else {
      return encode(static_cast<const R&>(call(params)));
    }
  };
  return add_registered_task(std::move(info), reinterpret_cast<task_address>(Fn));
}

/// Decodes the arguments of `method`, calls it on `w` and encodes its result. A coroutine
/// method runs to its end here, as a call in process mode does.
template <class W, class M>
std::vector<std::byte> invoke_encoded(M method, worker_base& w, std::span<const std::byte> bytes) {
  using fn = member_fn<M>;
  using R = typename fn::call_result;
  auto args = [&]<class... P>(std::tuple<P...>*) {
    return decode<std::tuple<std::decay_t<P>...>>(bytes);
  }(static_cast<typename fn::args*>(nullptr));
  auto& self = static_cast<W&>(w);
  // Each decoded argument goes in as the parameter asks: by reference to the decoded value
  // (which outlives a coroutine's run), moved into a by-value or rvalue parameter.
  auto call = [&](auto&... a) -> decltype(auto) {
    if constexpr (fn::coroutine)
      return concurry::run([&]<class... P>(std::tuple<P...>*) {
        return (self.*method)(static_cast<P&&>(a)...);
      }(static_cast<typename fn::args*>(nullptr)));
    else
      return (self.*method)(std::move(a)...);
  };
  if constexpr (std::is_void_v<R>) {
    std::apply(call, args);
    return {};
  } else {
    return encode(static_cast<const R&>(std::apply(call, args)));
  }
}

template <class D>
bool register_worker() {
  using W = typename D::worker_type;
  using ctor = typename constructor_args<typename D::constructor>::type;
  worker_type_info info;
  info.name = D::name;
  for (auto n : D::method_names())
    info.method_names.emplace_back(n);
  info.constructor_arity = std::tuple_size_v<ctor>;
  info.local_only = D::local_only;
  if constexpr (!D::local_only) {
    info.construct = [](std::span<const std::byte> bytes) -> std::unique_ptr<worker_base> {
      auto args = decode<ctor>(bytes);
      return std::apply([](auto&... a) { return std::make_unique<W>(std::move(a)...); }, args);
    };
    std::apply(
        [&](auto... method) {
          (info.invoke.emplace_back([method](worker_base& w, std::span<const std::byte> bytes) {
            return invoke_encoded<W>(method, w, bytes);
          }),
           ...);
        },
        D::methods());
  }
  return add_registered_worker(std::move(info), typeid(typename D::worker_type));
}

} // namespace detail
} // namespace concurry

#define CONCURRY_DETAIL_WORKER(cls, ctor_args, local, ...)                                         \
  struct concurry_worker_descriptor_##cls {                                                        \
    using worker_type = cls;                                                                       \
    using constructor = void ctor_args;                                                            \
    static constexpr bool local_only = local;                                                      \
    static constexpr const char* name = #cls;                                                      \
    static constexpr auto methods() noexcept {                                                     \
      return ::std::make_tuple(                                                                    \
          CONCURRY_DETAIL_FOR_EACH(CONCURRY_DETAIL_MEMBER_PTR, cls, __VA_ARGS__));                 \
    }                                                                                              \
    static ::std::vector<::std::string_view> method_names() {                                      \
      return {CONCURRY_DETAIL_FOR_EACH(CONCURRY_DETAIL_STRING, ~, __VA_ARGS__)};                   \
    }                                                                                              \
  };                                                                                               \
  [[maybe_unused]] inline concurry_worker_descriptor_##cls concurry_worker_descriptor(             \
      const cls*) {                                                                                \
    return {};                                                                                     \
  }                                                                                                \
  static_assert(::concurry::detail::check_worker<concurry_worker_descriptor_##cls>());             \
  [[maybe_unused]] inline const bool concurry_worker_registered_##cls =                            \
      ::concurry::detail::register_worker<concurry_worker_descriptor_##cls>();

/// Registers free function `fn` as a task that task workers in other processes can run by its
/// name: `CONCURRY_TASK(fn)`, at namespace scope in the function's namespace, after its
/// declaration, with no semicolon after it. `fn` is an unqualified name, not overloaded; its
/// parameters and result must be transferable (checked at compile time). Two registered
/// functions of one name (in different namespaces) cannot run in another process.
#define CONCURRY_TASK(fn)                                                                          \
  static_assert(::concurry::detail::check_task<&fn>());                                            \
  [[maybe_unused]] inline const bool concurry_task_registered_##fn =                               \
      ::concurry::detail::register_task<&fn>(#fn);

/// Registers worker class `cls`: `CONCURRY_WORKER(cls, (ctor arg types...), method, ...);`.
/// Every argument and result must be transferable (transfer.hpp); checked at compile time.
#define CONCURRY_WORKER(cls, ctor_args, ...)                                                       \
  CONCURRY_DETAIL_WORKER(cls, ctor_args, false __VA_OPT__(, ) __VA_ARGS__)

/// Registers worker class `cls` for sync and thread modes only, with any argument types.
#define CONCURRY_LOCAL_WORKER(cls, ctor_args, ...)                                                 \
  CONCURRY_DETAIL_WORKER(cls, ctor_args, true __VA_OPT__(, ) __VA_ARGS__)
