// A program whose only worker is inside a one-hour sleep. It stops the pool with a 1 s timeout
// and returns from main; the test that runs it checks that the whole process ends promptly.
//   stop_probe [thread|process]   the mode of the pool, thread by default
#include <concurry/concurry.hpp>

#include <chrono>
#include <iostream>
#include <thread>

class stuck : public concurry::worker<stuck> {
public:
  int sleep_an_hour() {
    std::this_thread::sleep_for(std::chrono::hours{1});
    return 0;
  }
};
CONCURRY_WORKER(stuck, (), sleep_an_hour)

int main(int argc, char** argv) {
  concurry::runtime rt{argc, argv};
  auto pool = stuck::options().mode(argc > 1 ? argv[1] : "thread").max_workers(1).init();
  auto f = pool.call(&stuck::sleep_an_hour);
  auto t0 = std::chrono::steady_clock::now();
  pool.stop(std::chrono::seconds{1});
  auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  try {
    f.result();
    std::cout << "error: the abandoned call returned a value\n";
    return 1;
  } catch (const concurry::stopped_error& e) {
    std::cout << "stop took " << took << " s; the call failed with: " << e.what() << '\n';
  }
  return took < 5.0 ? 0 : 1;
}
