#include <concurry/stats.hpp>

namespace concurry {

namespace {

void print_map(std::ostream& os, const char* key, const std::map<std::size_t, std::uint64_t>& m) {
  os << ' ' << key << "={";
  bool first = true;
  for (auto& [index, n] : m) {
    os << (first ? "" : ",") << index << ':' << n;
    first = false;
  }
  os << '}';
}

} // namespace

std::ostream& operator<<(std::ostream& os, const pool_stats& s) {
  auto& lb = s.load_balancer;
  os << "mode=" << to_string(s.mode) << " total_workers=" << s.total_workers
     << " max_workers=" << s.max_workers << " on_demand=" << (s.on_demand ? "true" : "false")
     << " on_demand_active=" << s.on_demand_active << " max_queued_tasks=" << s.max_queued_tasks
     << " stopped=" << (s.stopped ? "true" : "false") << " algorithm=" << to_string(lb.algorithm)
     << " total_dispatched=" << lb.total_dispatched;
  if (s.mode == mode::process || s.mode == mode::cluster)
    os << " restarts=" << s.restarts;
  if (lb.algorithm == load_balancing::least_active) {
    print_map(os, "active_calls", lb.active_calls);
    os << " total_active=" << lb.total_active;
  } else if (lb.algorithm == load_balancing::least_total) {
    print_map(os, "total_calls", lb.total_calls);
    os << " sum_total_calls=" << lb.sum_total_calls;
  }
  return os;
}

} // namespace concurry
