#include "status_render.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>
#include <string_view>
#include <vector>

namespace concurry::cli {

namespace {

using net::cluster_status;
using net::demand_count;
using net::node_status;

constexpr std::int64_t units_per_whole = 10'000;
constexpr std::string_view cpu_name = "cpu";
constexpr std::string_view rule =
    "--------------------------------------------------------------------------------";

// ---------------------------------------------------------------------------------------------
// Resources

/// Orders resource names with the CPU first, then by name.
struct resource_order {
  bool operator()(const std::string& a, const std::string& b) const {
    if ((a == cpu_name) != (b == cpu_name))
      return a == cpu_name;
    return a < b;
  }
};

struct usage {
  std::int64_t used = 0;
  std::int64_t total = 0;
};
using usage_map = std::map<std::string, usage, resource_order>;

bool is_worker_type(std::string_view resource) {
  return resource.starts_with(worker_type_prefix);
}

/// A node's used and total amounts by resource, worker types left out.
usage_map node_usage(const node_status& node) {
  usage_map out;
  for (const auto& r : node.total)
    if (!is_worker_type(r.name))
      out[r.name].total += r.units;
  for (const auto& r : node.used)
    if (!is_worker_type(r.name))
      out[r.name].used += r.units;
  return out;
}

/// The sum of node_usage over the live nodes.
usage_map cluster_usage(const cluster_status& status) {
  usage_map out;
  for (const auto& node : status.nodes) {
    if (!node.alive)
      continue;
    for (const auto& [name, u] : node_usage(node)) {
      out[name].used += u.used;
      out[name].total += u.total;
    }
  }
  return out;
}

/// The node's worker types, from its list and from its `worker:` resources, sorted.
std::set<std::string> worker_types(const node_status& node) {
  std::set<std::string> types(node.worker_types.begin(), node.worker_types.end());
  for (const auto& r : node.total)
    if (is_worker_type(r.name))
      types.insert(r.name.substr(worker_type_prefix.size()));
  return types;
}

/// A demand's amounts by resource: the CPU first, zero amounts left out.
usage_map demand_amounts(const net::worker_demand& demand) {
  usage_map out;
  if (demand.cpu_units != 0)
    out[std::string{cpu_name}].total = demand.cpu_units;
  for (const auto& r : demand.resources)
    if (r.units != 0)
      out[r.name].total += r.units;
  return out;
}

std::string_view strategy_name(net::worker_demand::placement p) {
  switch (p) {
  case net::worker_demand::placement::pack:
    return "pack";
  case net::worker_demand::placement::spread:
    return "spread";
  case net::worker_demand::placement::named:
    return "named";
  }
  return "pack";
}

std::string client_id(std::uint64_t client) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(client));
  return text;
}

/// The shortest text that reads back as `value`.
std::string shortest(double value) {
  char text[32];
  auto [end, ec] = std::to_chars(text, text + sizeof text, value);
  return ec == std::errc{} ? std::string(text, end) : std::string{"?"};
}

// ---------------------------------------------------------------------------------------------
// Text

/// `name` with control characters replaced, so that a name cannot drive the terminal.
std::string printable(std::string_view name) {
  std::string out{name};
  std::replace_if(
      out.begin(),
      out.end(),
      [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; },
      '?');
  return out;
}

std::string display_name(const std::string& resource) {
  return resource == cpu_name ? "CPU" : printable(resource);
}

/// An amount with at least one decimal place, as `ray status` shows usage: "4.0", "2.5".
std::string usage_units(std::int64_t units) {
  auto text = format_units(units);
  return text.find('.') == std::string::npos ? text + ".0" : text;
}

std::string usage_text(const std::string& resource, const usage& u) {
  return usage_units(u.used) + "/" + usage_units(u.total) + " " + display_name(resource);
}

std::string uptime_text(std::uint64_t ms) {
  auto s = ms / 1000;
  std::string out;
  if (s >= 3600)
    out += std::to_string(s / 3600) + "h ";
  if (s >= 60)
    out += std::to_string(s / 60 % 60) + "m ";
  return out + std::to_string(s % 60) + "s";
}

/// Writes `rows` with each column padded to its widest cell, one leading space per line.
void write_table(std::ostream& os, const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (std::size_t i = 0; i < row.size(); ++i)
      widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i)
      line += (i == 0 ? " " : "  ") + row[i] + std::string(widths[i] - row[i].size(), ' ');
    line.erase(line.find_last_not_of(' ') + 1);
    os << line << '\n';
  }
}

void write_heading(std::ostream& os, std::string_view title) {
  os << title << '\n' << rule << '\n';
}

void write_nodes(std::ostream& os, const cluster_status& status) {
  write_heading(os, "Node status");
  if (status.nodes.empty()) {
    os << " (no nodes)\n";
    return;
  }
  std::vector<std::vector<std::string>> rows{{"NAME", "PID", "STATE", "WORKERS"}};
  for (const auto& node : status.nodes) {
    std::vector<std::string> row{printable(node.name),
                                 std::to_string(node.pid),
                                 node.alive ? "alive" : "dead",
                                 std::to_string(node.workers)};
    if (!node.alive)
      row.push_back("silent for " + shortest(std::round(node.silent_ms / 100.0) / 10) + " s");
    rows.push_back(std::move(row));
  }
  write_table(os, rows);
}

void write_resources(std::ostream& os, const cluster_status& status) {
  write_heading(os, "Resources");
  os << "Total usage (live nodes):\n";
  auto total = cluster_usage(status);
  if (total.empty())
    os << " (no resources)\n";
  for (const auto& [name, u] : total)
    os << ' ' << usage_text(name, u) << '\n';
  if (status.nodes.empty())
    return;
  os << "Per node:\n";
  for (const auto& node : status.nodes) {
    std::string line;
    for (const auto& [name, u] : node_usage(node))
      line += (line.empty() ? "" : ", ") + usage_text(name, u);
    os << ' ' << printable(node.name) << (node.alive ? "" : " (dead)") << ": "
       << (line.empty() ? "(no resources)" : line) << '\n';
    auto types = worker_types(node);
    if (types.empty())
      continue;
    std::string type_list;
    for (const auto& t : types)
      type_list += (type_list.empty() ? "" : ", ") + printable(t);
    os << "  Worker types: " << type_list << '\n';
  }
}

void write_pools(std::ostream& os, const cluster_status& status) {
  write_heading(os, "Pools");
  if (status.pools.empty()) {
    os << " (no pools)\n";
    return;
  }
  std::vector<std::vector<std::string>> rows{{"WORKER TYPE", "CLIENT", "POOL", "WORKERS"}};
  for (const auto& p : status.pools) {
    auto workers = std::to_string(p.placed) + " placed, " + std::to_string(p.pending) + " pending";
    if (p.infeasible != 0)
      workers += ", " + std::to_string(p.infeasible) + " infeasible";
    rows.push_back(
        {printable(p.worker_type), client_id(p.client), std::to_string(p.pool), workers});
  }
  write_table(os, rows);
}

/// "{CPU: 0.5, gpu: 1}: 3 pending (indexer)".
std::string demand_line(const demand_count& d, std::string_view state) {
  std::string amounts;
  for (const auto& [name, u] : demand_amounts(d.demand))
    amounts += (amounts.empty() ? "" : ", ") + display_name(name) + ": " + format_units(u.total);
  std::string line = "{" + amounts + "}: " + std::to_string(d.count) + " " + std::string{state};
  std::string notes = printable(d.worker_type);
  std::string where;
  if (d.demand.strategy == net::worker_demand::placement::spread)
    where = "spread";
  if (d.demand.strategy == net::worker_demand::placement::named)
    where = "on node " + printable(d.demand.node);
  if (!where.empty())
    notes += (notes.empty() ? "" : ", ") + where;
  return notes.empty() ? line : line + " (" + notes + ")";
}

void write_demands(std::ostream& os, const cluster_status& status) {
  write_heading(os, "Demands");
  if (status.pending.empty() && status.infeasible.empty()) {
    os << " (no pending demands)\n";
    return;
  }
  if (!status.pending.empty()) {
    os << "Pending:\n";
    for (const auto& d : status.pending)
      os << ' ' << demand_line(d, "pending") << '\n';
  }
  if (!status.infeasible.empty()) {
    os << "Infeasible (no node of the cluster can ever fit these):\n";
    for (const auto& d : status.infeasible)
      os << ' ' << demand_line(d, "infeasible") << '\n';
  }
}

std::string limit_amount(double value) {
  return std::isinf(value) ? "unlimited" : shortest(value);
}

void write_limits(std::ostream& os, const cluster_status& status) {
  write_heading(os, "Limits");
  if (status.limits.empty()) {
    os << " (no limits)\n";
    return;
  }
  std::vector<std::vector<std::string>> rows{
      {"KEY", "KIND", "ALGORITHM", "IN USE/CAPACITY", "UTILIZATION"}};
  for (const auto& l : status.limits) {
    auto amounts = limit_amount(l.in_use) + "/" + limit_amount(l.capacity);
    if (l.window_seconds > 0)
      amounts += " per " + shortest(l.window_seconds) + " s";
    char percent[16];
    std::snprintf(percent, sizeof percent, "%.1f%%", l.utilization * 100);
    rows.push_back({printable(l.key),
                    printable(l.kind),
                    l.algorithm.empty() ? "-" : printable(l.algorithm),
                    amounts,
                    percent});
  }
  write_table(os, rows);
}

std::string render_text(const cluster_status& status) {
  std::ostringstream os;
  auto alive = std::count_if(
      status.nodes.begin(), status.nodes.end(), [](const node_status& n) { return n.alive; });
  os << "======== Cluster status: " << status.nodes.size() << " node"
     << (status.nodes.size() == 1 ? "" : "s") << " (" << alive << " alive), " << status.clients
     << " client" << (status.clients == 1 ? "" : "s") << ", up " << uptime_text(status.uptime_ms)
     << " ========\n";
  write_nodes(os, status);
  os << '\n';
  write_resources(os, status);
  os << '\n';
  write_pools(os, status);
  os << '\n';
  write_demands(os, status);
  os << '\n';
  write_limits(os, status);
  return os.str();
}

// ---------------------------------------------------------------------------------------------
// JSON

/// Writes one compact JSON value, placing the commas.
class json_writer {
public:
  json_writer& begin_object() { return open('{'); }
  json_writer& end_object() { return close('}'); }
  json_writer& begin_array() { return open('['); }
  json_writer& end_array() { return close(']'); }

  /// The key of the next member of the current object.
  json_writer& key(std::string_view k) {
    separate();
    out_ += json_string(k);
    out_ += ':';
    after_key_ = true;
    return *this;
  }

  json_writer& value(std::string_view s) { return raw(json_string(s)); }
  json_writer& value(const char* s) { return value(std::string_view{s}); }
  json_writer& value(bool b) { return raw(b ? "true" : "false"); }
  json_writer& value(std::uint64_t n) { return raw(std::to_string(n)); }
  json_writer& value(std::int64_t n) { return raw(std::to_string(n)); }
  json_writer& value(std::uint32_t n) { return raw(std::to_string(n)); }
  json_writer& value(std::int32_t n) { return raw(std::to_string(n)); }
  /// A number; NaN and infinities, which JSON lacks, are null.
  json_writer& value(double d) { return raw(std::isfinite(d) ? shortest(d) : "null"); }
  /// An exact decimal amount from fixed-point units.
  json_writer& units(std::int64_t u) { return raw(format_units(u)); }

  [[nodiscard]] std::string str() const { return out_ + '\n'; }

private:
  json_writer& open(char c) {
    separate();
    out_ += c;
    first_.push_back(true);
    return *this;
  }
  json_writer& close(char c) {
    out_ += c;
    first_.pop_back();
    return *this;
  }
  json_writer& raw(std::string_view text) {
    separate();
    out_ += text;
    return *this;
  }
  void separate() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (!first_.empty() && !first_.back())
      out_ += ',';
    if (!first_.empty())
      first_.back() = false;
  }

  std::string out_;
  std::vector<bool> first_; ///< per open object or array: no member written yet
  bool after_key_ = false;
};

void write_usage(json_writer& w, const usage_map& usages) {
  w.begin_object();
  for (const auto& [name, u] : usages) {
    w.key(name).begin_object();
    w.key("used").units(u.used);
    w.key("total").units(u.total);
    w.end_object();
  }
  w.end_object();
}

void write_demand(json_writer& w, const demand_count& d) {
  w.begin_object();
  w.key("worker_type").value(d.worker_type);
  w.key("count").value(d.count);
  w.key("cpu").units(d.demand.cpu_units);
  w.key("resources").begin_object();
  for (const auto& r : d.demand.resources)
    w.key(r.name).units(r.units);
  w.end_object();
  w.key("strategy").value(strategy_name(d.demand.strategy));
  w.key("node").value(d.demand.node);
  w.end_object();
}

void write_json_nodes(json_writer& w, const cluster_status& status) {
  w.key("nodes").begin_array();
  for (const auto& node : status.nodes) {
    w.begin_object();
    w.key("name").value(node.name);
    w.key("pid").value(node.pid);
    w.key("alive").value(node.alive);
    w.key("silent_ms").value(node.silent_ms);
    w.key("workers").value(node.workers);
    w.key("resources");
    write_usage(w, node_usage(node));
    w.key("worker_types").begin_array();
    for (const auto& t : worker_types(node))
      w.value(t);
    w.end_array();
    w.end_object();
  }
  w.end_array();
}

void write_json_limits(json_writer& w, const cluster_status& status) {
  w.key("limits").begin_array();
  for (const auto& l : status.limits) {
    w.begin_object();
    w.key("key").value(l.key);
    w.key("kind").value(l.kind);
    w.key("algorithm").value(l.algorithm);
    w.key("capacity").value(l.capacity);
    w.key("window_seconds").value(l.window_seconds);
    w.key("in_use").value(l.in_use);
    w.key("available").value(l.available);
    w.key("utilization").value(l.utilization);
    w.key("max_rate").value(l.max_rate);
    w.end_object();
  }
  w.end_array();
}

std::string render_json(const cluster_status& status) {
  json_writer w;
  w.begin_object();
  w.key("version").value(std::uint32_t{1});
  w.key("uptime_ms").value(status.uptime_ms);
  w.key("clients").value(status.clients);
  w.key("resources");
  write_usage(w, cluster_usage(status));
  write_json_nodes(w, status);
  w.key("pools").begin_array();
  for (const auto& p : status.pools) {
    w.begin_object();
    w.key("client").value(client_id(p.client));
    w.key("pool").value(p.pool);
    w.key("worker_type").value(p.worker_type);
    w.key("placed").value(p.placed);
    w.key("pending").value(p.pending);
    w.key("infeasible").value(p.infeasible);
    w.end_object();
  }
  w.end_array();
  w.key("demands").begin_object();
  w.key("pending").begin_array();
  for (const auto& d : status.pending)
    write_demand(w, d);
  w.end_array();
  w.key("infeasible").begin_array();
  for (const auto& d : status.infeasible)
    write_demand(w, d);
  w.end_array();
  w.end_object();
  write_json_limits(w, status);
  w.end_object();
  return w.str();
}

/// The length of the well-formed UTF-8 sequence at the start of `s`, or 0 if there is none.
std::size_t utf8_length(std::string_view s) {
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  auto lead = byte(0);
  std::size_t n = 0;
  if (lead < 0x80)
    n = 1;
  else if (lead >= 0xc2 && lead <= 0xdf)
    n = 2;
  else if (lead >= 0xe0 && lead <= 0xef)
    n = 3;
  else if (lead >= 0xf0 && lead <= 0xf4)
    n = 4;
  if (n == 0 || s.size() < n)
    return 0;
  // The second byte's range depends on the lead (no overlong forms, surrogates or > U+10FFFF).
  unsigned char low = lead == 0xe0 ? 0xa0 : lead == 0xf0 ? 0x90 : 0x80;
  unsigned char high = lead == 0xed ? 0x9f : lead == 0xf4 ? 0x8f : 0xbf;
  for (std::size_t i = 1; i < n; ++i) {
    if (byte(i) < (i == 1 ? low : 0x80) || byte(i) > (i == 1 ? high : 0xbf))
      return 0;
  }
  return n;
}

} // namespace

std::string format_units(std::int64_t units) {
  // Negative amounts never come from a sane head, but are shown as they are.
  std::string sign = units < 0 ? "-" : "";
  auto magnitude =
      units < 0 ? -static_cast<std::uint64_t>(units) : static_cast<std::uint64_t>(units);
  auto text = sign + std::to_string(magnitude / units_per_whole);
  auto fraction = magnitude % units_per_whole;
  if (fraction == 0)
    return text;
  auto digits = std::to_string(units_per_whole + fraction).substr(1);
  digits.erase(digits.find_last_not_of('0') + 1);
  return text + "." + digits;
}

std::string json_string(std::string_view text) {
  std::string out = "\"";
  // Each round consumes one character: an escape, a UTF-8 sequence, or one invalid byte.
  while (!text.empty()) {
    auto c = static_cast<unsigned char>(text.front());
    std::size_t n = 1;
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      static constexpr std::string_view short_forms = "btnvfr"; // \b \t \n \v \f \r: 8 to 13
      if (c >= 8 && c <= 13 && c != 11) {
        out += '\\';
        out += short_forms[c - 8];
      } else {
        char escaped[8];
        std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
        out += escaped;
      }
    } else if ((n = utf8_length(text)) != 0) {
      out += text.substr(0, n);
    } else {
      out += "\\ufffd";
      n = 1;
    }
    text.remove_prefix(n);
  }
  return out + '"';
}

std::string render_status(const net::cluster_status& status, bool json) {
  return json ? render_json(status) : render_text(status);
}

} // namespace concurry::cli
