// The user guide's first example: a pool of five data processors on threads.
#include <concurry/concurry.hpp>

#include <iostream>

class data_processor : public concurry::worker<data_processor> {
public:
  explicit data_processor(int multiplier) : multiplier_{multiplier} {}

  int process(int value) {
    ++processed_;
    return value * multiplier_;
  }

  int processed() const { return processed_; }

private:
  int multiplier_;
  int processed_ = 0;
};
CONCURRY_WORKER(data_processor, (int), process, processed)

int main(int argc, char** argv) {
  concurry::runtime rt{argc, argv};
  auto pool = data_processor::options().mode(concurry::mode::thread).max_workers(5).init(10);
  concurry::future<int> f = pool.call(&data_processor::process, 42);
  std::cout << f.result() << '\n';                 // 420
  std::cout << pool.stats().total_workers << '\n'; // 5
}
