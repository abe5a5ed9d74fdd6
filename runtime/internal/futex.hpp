// Sleeping on a 32-bit atomic with Linux futexes, without the spinning and yielding that
// std::atomic::wait adds first (on two cores those steal the core the woken thread needs).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace concurry::runtime_internal {

/// Sleeps while `word` holds `expected`, at most `timeout` (forever when null). May return
/// early (spuriously); callers look at the word again.
void futex_wait(const std::atomic<std::uint32_t>& word,
                std::uint32_t expected,
                const std::chrono::nanoseconds* timeout = nullptr) noexcept;

/// Wakes one thread sleeping on `word`.
void futex_wake_one(const std::atomic<std::uint32_t>& word) noexcept;

/// Wakes every thread sleeping on `word`.
void futex_wake_all(const std::atomic<std::uint32_t>& word) noexcept;

} // namespace concurry::runtime_internal
