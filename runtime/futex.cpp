#include "runtime/internal/futex.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#include <ctime>

namespace concurry::runtime_internal {

namespace {

static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));

std::uint32_t* address(const std::atomic<std::uint32_t>& w) noexcept {
  return reinterpret_cast<std::uint32_t*>(const_cast<std::atomic<std::uint32_t>*>(&w));
}

} // namespace

void futex_wait(const std::atomic<std::uint32_t>& word,
                std::uint32_t expected,
                const std::chrono::nanoseconds* timeout) noexcept {
  timespec rel{};
  if (timeout) {
    auto ns = timeout->count() < 0 ? 0 : timeout->count();
    rel.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
    rel.tv_nsec = static_cast<long>(ns % 1'000'000'000);
  }
  syscall(
      SYS_futex, address(word), FUTEX_WAIT_PRIVATE, expected, timeout ? &rel : nullptr, nullptr, 0);
}

void futex_wake_one(const std::atomic<std::uint32_t>& word) noexcept {
  syscall(SYS_futex, address(word), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

void futex_wake_all(const std::atomic<std::uint32_t>& word) noexcept {
  syscall(SYS_futex, address(word), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
}

} // namespace concurry::runtime_internal
