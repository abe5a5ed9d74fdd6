// Exceptions across process boundaries. An exception thrown by a worker in another process
// travels as its type's name, its message and whether the type is registered; the client
// rethrows a registered type as itself, built from the message, and anything else as
// concurry::remote_error with the name and message:
//
//     struct quota_exceeded : std::runtime_error { using std::runtime_error::runtime_error; };
//     CONCURRY_EXCEPTION(quota_exceeded)   // at namespace scope, no semicolon
//
// The standard exceptions of <stdexcept> (logic_error, invalid_argument, domain_error,
// length_error, out_of_range, runtime_error, range_error, overflow_error, underflow_error),
// std::bad_alloc and concurry's own errors (error, timeout_error, cancelled_error, stopped_error,
// config_error, codec_error, worker_died, message_too_large) are registered from the start.
/// \file
/// Exceptions across process boundaries: CONCURRY_EXCEPTION, concurry::remote_error, and the
/// conversions between an exception and what crosses the wire.
#pragma once

#include <concurry/error.hpp>

#include <exception>
#include <functional>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <utility>

namespace concurry {

/// An exception thrown in another process whose type is not registered on both sides: it
/// carries the name of the original type and its message. `what()` gives "type: message".
class remote_error : public error {
public:
  /// The error for an exception of type `type_name` whose `what()` was `message`.
  remote_error(std::string type_name, std::string message);

  /// The name of the original exception's type, as describe_exception reported it
  /// ("app::quota_exceeded"); the mangled name where the platform cannot demangle it.
  [[nodiscard]] const std::string& type_name() const noexcept { return type_name_; }

  /// The original exception's `what()`; empty for a thrown object that is not a std::exception.
  [[nodiscard]] const std::string& message() const noexcept { return message_; }

private:
  std::string type_name_;
  std::string message_;
};

/// An exception in the form that crosses a process boundary.
struct exception_info {
  std::string type_name;   ///< the name of the exception's type ("std::out_of_range")
  std::string message;     ///< its `what()`
  bool registered = false; ///< whether the type is registered in the process that threw it
};

/// Builds the exception of a registered type from a message.
using exception_factory = std::function<std::exception_ptr(const std::string& message)>;

namespace detail {
/// Adds `type` to the registry under its demangled name; returns true.
bool add_exception_type(const std::type_info& type, exception_factory make);
} // namespace detail

/// Registers exception type E, rebuilt from a message by `make(message)`, which returns an E.
/// The type is known by its demangled name, so the same registration in client and worker host
/// (the same binary) lets E cross between them. Registering a type again replaces its factory.
/// Thread-safe; returns true, so it can initialise a variable.
template <class E, class Make>
bool register_exception(Make make) {
  static_assert(std::is_class_v<E>, "concurry: an exception type to register must be a class");
  static_assert(std::is_convertible_v<std::invoke_result_t<Make&, const std::string&>, E>,
                "concurry: the factory of a registered exception must return the exception");
  return detail::add_exception_type(typeid(E),
                                    [make = std::move(make)](const std::string& message) mutable {
                                      return std::make_exception_ptr<E>(make(message));
                                    });
}

/// Registers exception type E, rebuilt as `E(message)`; E must be constructible from a string.
template <class E>
bool register_exception() {
  static_assert(std::is_constructible_v<E, const std::string&>,
                "concurry: this exception type cannot be built from a message; register it with "
                "a function that builds it: CONCURRY_EXCEPTION(type, make)");
  return register_exception<E>([](const std::string& message) { return E(message); });
}

/// Whether an exception type of this name is registered in this process.
[[nodiscard]] bool is_exception_registered(std::string_view type_name);

/// The name concurry gives a type when it crosses a process boundary: demangled where the
/// platform can ("std::runtime_error"), else the compiler's name.
[[nodiscard]] std::string exception_type_name(const std::type_info& type);

/// What crosses the wire for the exception in `e`: the name of its dynamic type, its `what()`,
/// and whether that exact type is registered (a registered base class does not count). A
/// concurry::remote_error describes the exception it stands for, unregistered, so it keeps its
/// original name across several hops. A thrown object that is not a std::exception gets its
/// type's name where the platform tells it and an empty message. A null `e` gives an empty
/// type name.
[[nodiscard]] exception_info describe_exception(const std::exception_ptr& e);

/// The exception to rethrow for `info`: the registered type built by its factory when
/// `info.registered` and this process has registered a type of that name, otherwise (and when
/// the factory throws) a concurry::remote_error with the name and message. Never null.
[[nodiscard]] std::exception_ptr rebuild_exception(const exception_info& info);

} // namespace concurry

#define CONCURRY_DETAIL_EXCEPTION_CAT2(a, b) a##b
#define CONCURRY_DETAIL_EXCEPTION_CAT(a, b) CONCURRY_DETAIL_EXCEPTION_CAT2(a, b)

/// Registers exception type `type` so that it crosses process boundaries as itself:
/// `CONCURRY_EXCEPTION(quota_exceeded)` for a type constructible from a message, or
/// `CONCURRY_EXCEPTION(http_error, [](const std::string& m) { return http_error{500, m}; })`
/// with a function that builds it from its `what()`. Write it at namespace scope, in the program
/// that both throws and catches (client and worker hosts run the same binary), with no semicolon
/// after it. Harmless when repeated.
#define CONCURRY_EXCEPTION(type, ...)                                                              \
  [[maybe_unused]] static const bool CONCURRY_DETAIL_EXCEPTION_CAT(concurry_exception_registered_, \
                                                                   __COUNTER__) =                  \
      ::concurry::register_exception<type>(__VA_ARGS__);
