#include <concurry/exceptions.hpp>

#include <concurry/codec.hpp>

#include <cstdlib>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <typeindex>
#include <unordered_map>

#if __has_include(<cxxabi.h>)
#include <cxxabi.h>
#define CONCURRY_HAS_CXXABI 1
#endif

namespace concurry {

namespace {

// Registered exception types, by type for describing and by name for rebuilding.
struct exception_registry {
  std::mutex mutex;
  std::unordered_map<std::type_index, std::string> names;
  std::unordered_map<std::string, exception_factory> factories;

  void add(const std::type_info& type, exception_factory make) {
    std::string name = exception_type_name(type);
    std::lock_guard lock{mutex};
    names.insert_or_assign(std::type_index{type}, name);
    factories.insert_or_assign(std::move(name), std::move(make));
  }

  template <class E>
  void add_from_message() {
    add(typeid(E), [](const std::string& message) { return std::make_exception_ptr(E(message)); });
  }
};

// NOTE: never destroyed, so that static destructors of other translation units may still
// describe exceptions.
exception_registry& registry() {
  static auto* r = [] {
    auto* made = new exception_registry;
    made->add_from_message<std::logic_error>();
    made->add_from_message<std::invalid_argument>();
    made->add_from_message<std::domain_error>();
    made->add_from_message<std::length_error>();
    made->add_from_message<std::out_of_range>();
    made->add_from_message<std::runtime_error>();
    made->add_from_message<std::range_error>();
    made->add_from_message<std::overflow_error>();
    made->add_from_message<std::underflow_error>();
    made->add(typeid(std::bad_alloc),
              [](const std::string&) { return std::make_exception_ptr(std::bad_alloc{}); });
    made->add_from_message<error>();
    made->add_from_message<timeout_error>();
    made->add_from_message<cancelled_error>();
    made->add_from_message<stopped_error>();
    made->add_from_message<config_error>();
    made->add_from_message<worker_died>();
    made->add_from_message<codec_error>();
    made->add_from_message<message_too_large>();
    made->add_from_message<auth_error>();
    made->add_from_message<cluster_unavailable>();
    return made;
  }();
  return *r;
}

bool is_registered(const std::type_info& type) {
  auto& r = registry();
  std::lock_guard lock{r.mutex};
  return r.names.contains(std::type_index{type});
}

std::string demangle(const char* name) {
#ifdef CONCURRY_HAS_CXXABI
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> out{abi::__cxa_demangle(name, nullptr, nullptr, &status),
                                             std::free};
  if (status == 0 && out)
    return out.get();
#endif
  return name;
}

// The type of the exception being handled, inside a catch (...), where the platform says.
std::string current_exception_type_name() {
#ifdef CONCURRY_HAS_CXXABI
  if (const std::type_info* type = abi::__cxa_current_exception_type())
    return exception_type_name(*type);
#endif
  return "unknown";
}

} // namespace

remote_error::remote_error(std::string type_name, std::string message)
    : error{type_name + ": " + message}, type_name_{std::move(type_name)}, message_{std::move(
                                                                               message)} {}

bool detail::add_exception_type(const std::type_info& type, exception_factory make) {
  registry().add(type, std::move(make));
  return true;
}

bool is_exception_registered(std::string_view type_name) {
  auto& r = registry();
  std::lock_guard lock{r.mutex};
  return r.factories.contains(std::string{type_name});
}

std::string exception_type_name(const std::type_info& type) {
  return demangle(type.name());
}

exception_info describe_exception(const std::exception_ptr& e) {
  if (!e)
    return {};
  try {
    std::rethrow_exception(e);
  } catch (const remote_error& remote) {
    return {remote.type_name(), remote.message(), false};
  } catch (const std::exception& x) {
    return {exception_type_name(typeid(x)), x.what(), is_registered(typeid(x))};
  } catch (...) {
    return {current_exception_type_name(), {}, false};
  }
}

std::exception_ptr rebuild_exception(const exception_info& info) {
  if (info.registered) {
    exception_factory make;
    {
      auto& r = registry();
      std::lock_guard lock{r.mutex};
      if (auto it = r.factories.find(info.type_name); it != r.factories.end())
        make = it->second;
    }
    if (make) {
      try {
        if (auto built = make(info.message))
          return built;
      } catch (...) {
        // A factory that fails leaves the plain description below.
      }
    }
  }
  return std::make_exception_ptr(remote_error{info.type_name, info.message});
}

} // namespace concurry
