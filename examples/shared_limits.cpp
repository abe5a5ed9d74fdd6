// The user guide's "Shared rate limiting" and "Resource pooling", against real services that this
// program starts itself: a small HTTP server on 127.0.0.1 stands in for the external API, and a
// SQLite database in a temporary directory for the database.
//
// Eight API workers share one budget of 20 requests per second, and eight database workers share
// 3 connections. Each item goes through both pools at once: the database call takes the future
// of the HTTP call. The server records when each request arrived, and the database workers count
// the connections open at once, so the output shows that both limits held.
#include <concurry/concurry.hpp>
#include <concurry/wait.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr int item_count = 60;
constexpr int requests_per_second = 20;
constexpr int connections = 3;

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::runtime_error{what + ": " + std::strerror(errno)};
}

/// Makes every send and receive on `fd` give up after `timeout`.
void set_socket_timeouts(int fd, std::chrono::seconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count());
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/// Sends all of `data`; false when the peer is gone or a send timed out.
bool send_all(int fd, const std::string& data) {
  for (std::size_t sent = 0; sent < data.size();) {
    auto n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0)
      return false;
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

/// A minimal HTTP/1.1 server on 127.0.0.1 and an ephemeral port, on a thread of its own. It
/// answers `GET /items/<n>` with the body "item <n>", one request per connection, and records
/// when each request arrived. It serves until destroyed, and never longer than a minute.
class item_server {
public:
  item_server() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0)
      throw_errno("socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(fd_, 64) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ::close(fd_);
      throw_errno("listening on 127.0.0.1");
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread{[this] { serve(); }};
  }

  item_server(const item_server&) = delete;
  item_server& operator=(const item_server&) = delete;

  ~item_server() {
    stopping_ = true;
    thread_.join();
    ::close(fd_);
  }

  [[nodiscard]] int port() const noexcept { return port_; }

  /// When each request arrived, in arrival order.
  [[nodiscard]] std::vector<clock_type::time_point> arrivals() const {
    std::lock_guard guard{mutex_};
    return arrivals_;
  }

private:
  void serve() {
    auto deadline = clock_type::now() + 60s;
    while (!stopping_ && clock_type::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, /*timeout_ms=*/50) <= 0)
        continue;
      int client = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0)
        continue;
      set_socket_timeouts(client, 2s);
      answer(client);
      ::close(client);
    }
  }

  // Reads one request (at most 4 KiB) and answers it.
  void answer(int client) {
    std::string request;
    char buf[1024];
    while (request.find("\r\n\r\n") == std::string::npos && request.size() < 4096) {
      auto n = ::recv(client, buf, sizeof buf, 0);
      if (n <= 0)
        return;
      request.append(buf, static_cast<std::size_t>(n));
    }
    {
      std::lock_guard guard{mutex_};
      arrivals_.push_back(clock_type::now());
    }
    const std::string prefix = "GET /items/";
    std::string status = "404 Not Found";
    std::string body = "no such item\n";
    if (request.compare(0, prefix.size(), prefix) == 0) {
      auto id = request.substr(prefix.size(), request.find(' ', prefix.size()) - prefix.size());
      if (!id.empty() && id.size() < 10 &&
          std::all_of(id.begin(), id.end(), [](unsigned char c) { return std::isdigit(c) != 0; })) {
        status = "200 OK";
        body = "item " + id;
      }
    }
    send_all(client,
             "HTTP/1.1 " + status + "\r\nContent-Type: text/plain\r\nContent-Length: " +
                 std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
  }

  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::vector<clock_type::time_point> arrivals_;
  std::thread thread_;
};

/// GETs `path` from 127.0.0.1:`port` and returns the body of a 200 response. Throws
/// std::runtime_error for anything else; each socket operation gives up after 5 s.
std::string http_get(int port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    throw_errno("socket");
  set_socket_timeouts(fd, 5s);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  std::string response;
  bool sent = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
              send_all(fd, "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  char buf[1024];
  // The server closes the connection after its response; 64 KiB is far more than it sends.
  while (sent && response.size() < 65536) {
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0)
      break;
    response.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  auto body = response.find("\r\n\r\n");
  if (response.compare(0, 12, "HTTP/1.1 200") != 0 || body == std::string::npos)
    throw std::runtime_error{"GET " + path + " failed: \"" + response.substr(0, 40) + "\""};
  return response.substr(body + 4);
}

/// Calls the API, under the pool's shared budget of requests.
class api_worker : public concurry::worker<api_worker> {
public:
  explicit api_worker(int port) : port_{port} {}

  std::string fetch(int id) {
    auto acq = limits().acquire({{"requests", 1}});
    return http_get(port_, "/items/" + std::to_string(id));
  }

private:
  int port_;
};
CONCURRY_WORKER(api_worker, (int), fetch)

/// Connections to the database open now, and the most ever open at once.
std::atomic<int> open_connections{0};
std::atomic<int> most_open_connections{0};

/// One SQLite connection, counted while it is open.
class connection {
public:
  explicit connection(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
        SQLITE_OK) {
      std::string message = sqlite3_errmsg(db_);
      sqlite3_close(db_);
      throw std::runtime_error{"cannot open " + path + ": " + message};
    }
    sqlite3_busy_timeout(db_, /*ms=*/10'000);
    int now = ++open_connections;
    int most = most_open_connections.load();
    while (now > most && !most_open_connections.compare_exchange_weak(most, now)) {
    }
  }

  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  ~connection() {
    --open_connections;
    sqlite3_close(db_);
  }

  /// Runs `sql` with `id` and `text` bound to its two parameters.
  void execute(const char* sql, int id, const std::string& text) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql, -1, &stmt, nullptr);
    if (rc == SQLITE_OK) {
      sqlite3_bind_int(stmt, 1, id);
      sqlite3_bind_text(stmt, 2, text.c_str(), -1, SQLITE_TRANSIENT);
      rc = sqlite3_step(stmt);
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE)
      throw std::runtime_error{std::string{"sqlite: "} + sqlite3_errmsg(db_)};
  }

  /// The first column of the first row of `sql`, an integer.
  long long query_int(const char* sql) {
    sqlite3_stmt* stmt = nullptr;
    long long value = -1;
    if (sqlite3_prepare_v2(db_, sql, -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW)
      value = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return value;
  }

  /// Runs `sql`, which may hold several statements.
  void exec(const char* sql) {
    if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK)
      throw std::runtime_error{std::string{"sqlite: "} + sqlite3_errmsg(db_)};
  }

private:
  sqlite3* db_ = nullptr;
};

/// Writes items to the database, holding one of the pool's shared connections while it does.
class database_worker : public concurry::worker<database_worker> {
public:
  explicit database_worker(std::string path) : path_{std::move(path)} {}

  void store(int id, std::string body) {
    auto acq = limits().acquire({{"connections", 1}});
    connection db{path_};
    db.execute("INSERT INTO items(id, body) VALUES(?1, ?2)", id, body);
    // Holds the connection a little longer, as a real transaction would.
    std::this_thread::sleep_for(20ms);
  }

private:
  std::string path_;
};
CONCURRY_WORKER(database_worker, (std::string), store)

/// A fresh directory under the system's temporary one, removed with everything in it.
class temp_dir {
public:
  temp_dir() {
    // mkdtemp swaps the last six characters of the pattern for a unique name.
    auto pattern = (std::filesystem::temp_directory_path() / "concurry-limits-").string() +
                   std::string(6, 'X');
    if (!::mkdtemp(pattern.data()))
      throw_errno("mkdtemp");
    path_ = pattern;
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

private:
  std::filesystem::path path_;
};

/// The most arrivals within any span of `span` (arrivals in order).
std::size_t busiest(const std::vector<clock_type::time_point>& arrivals,
                    clock_type::duration span) {
  std::size_t most = 0;
  for (std::size_t first = 0, last = 0; first < arrivals.size(); ++first) {
    while (last < arrivals.size() && arrivals[last] - arrivals[first] < span)
      ++last;
    most = std::max(most, last - first);
  }
  return most;
}

} // namespace

int main(int argc, char** argv) {
  concurry::runtime rt{argc, argv};

  // The services, declared first so that they outlive the pools that use them.
  temp_dir dir;
  const std::string db_path = (dir.path() / "items.db").string();
  connection{db_path}.exec(
      "PRAGMA journal_mode=WAL; CREATE TABLE items(id INTEGER PRIMARY KEY, body TEXT)");
  item_server server;

  // Both pools share their limits among their workers; stopping them is bounded by stop_timeout.
  auto api_pool = api_worker::options()
                      .max_workers(8)
                      .stop_timeout(10s)
                      .limits({concurry::rate_limit{"requests", "second", requests_per_second}})
                      .init(server.port());
  auto db_pool = database_worker::options()
                     .max_workers(8)
                     .stop_timeout(10s)
                     .limits({concurry::resource_limit{"connections", connections}})
                     .init(db_path);

  // Every item goes out at once: the store call waits for its fetch without blocking here.
  auto t0 = clock_type::now();
  std::vector<concurry::future<void>> stored;
  for (int id = 0; id < item_count; ++id)
    stored.push_back(
        db_pool.call(&database_worker::store, id, api_pool.call(&api_worker::fetch, id)));
  concurry::gather(stored, 30s);
  auto took = clock_type::now() - t0;

  // The rate limit: 60 requests at 20 per second need two seconds past the first burst. The
  // server counts spans of 900 ms, leaving 100 ms for a request to travel from the worker that
  // was granted it.
  auto arrivals = server.arrivals();
  std::printf(
      "%d items fetched and stored in %s 2 s\n", item_count, took >= 2s ? "at least" : "less than");
  std::printf("server: %zu requests, at most %zu in any second (limit %d)\n",
              arrivals.size(),
              busiest(arrivals, 900ms),
              requests_per_second);

  // The resource limit, and what reached the database.
  int most = most_open_connections.load();
  if (most <= connections)
    std::printf("database: never more than %d connections open at once\n", connections);
  else
    std::printf("database: %d connections open at once, over the limit of %d\n", most, connections);
  connection check{db_path};
  std::printf("database: %lld rows, %lld with the body the server sent\n",
              check.query_int("SELECT COUNT(*) FROM items"),
              check.query_int("SELECT COUNT(*) FROM items WHERE body = 'item ' || id"));
}
