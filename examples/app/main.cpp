// An application built outside concurry's tree: three workers on threads measure paths on a
// grid. It prints, for concurry 0.1.0:
//
//     concurry 0.1.0
//     lengths: 7 9 14
//     total: 30
//     farthest: (2, 5)
//     workers: 3
#include <concurry/concurry.hpp>

#include <cstdlib>
#include <iostream>
#include <vector>

namespace geometry {

/// A point on the integer grid.
struct point {
  int x = 0;
  int y = 0;
};
// Calls may carry points, also to workers in other processes.
CONCURRY_TYPE(point, x, y)

/// Measures paths in city-block distance, times a unit given at construction.
class path_meter : public concurry::worker<path_meter> {
public:
  explicit path_meter(int unit) : unit_{unit} {}

  /// The length of `path`: the sum of its steps.
  int length(const std::vector<point>& path) const {
    int total = 0;
    for (std::size_t i = 1; i < path.size(); ++i)
      total += distance(path[i - 1], path[i]);
    return total * unit_;
  }

  /// The point of `path` farthest from its first one; the first of those on a tie.
  point farthest(std::vector<point> path) const {
    point best = path.empty() ? point{} : path.front();
    for (const point& p : path) {
      if (distance(path.front(), p) > distance(path.front(), best))
        best = p;
    }
    return best;
  }

private:
  static int distance(point a, point b) { return std::abs(a.x - b.x) + std::abs(a.y - b.y); }

  int unit_;
};
CONCURRY_WORKER(path_meter, (int), length, farthest)

} // namespace geometry

int main(int argc, char** argv) {
  concurry::runtime rt{argc, argv};

  // Three path meters, each on a thread of its own.
  auto pool =
      geometry::path_meter::options().mode(concurry::mode::thread).max_workers(3).init(/*unit=*/1);

  // One call per path, spread over the workers by round robin.
  const std::vector<std::vector<geometry::point>> paths{
      {{0, 0}, {3, 4}},
      {{0, 0}, {2, 0}, {2, 5}, {0, 5}},
      {{1, 1}, {4, 5}, {1, 1}},
  };
  std::vector<concurry::future<int>> lengths;
  for (const auto& path : paths)
    lengths.push_back(pool.call(&geometry::path_meter::length, path));
  concurry::future<geometry::point> far = pool.call(&geometry::path_meter::farthest, paths[1]);

  // The results, in call order whatever order the workers finished in.
  std::cout << "concurry " << concurry::version() << '\n';
  int total = 0;
  std::cout << "lengths:";
  for (const auto& f : lengths) {
    total += f.result();
    std::cout << ' ' << f.result();
  }
  const geometry::point p = far.result();
  std::cout << "\ntotal: " << total << '\n';
  std::cout << "farthest: (" << p.x << ", " << p.y << ")\n";
  std::cout << "workers: " << pool.stats().total_workers << '\n';
}
