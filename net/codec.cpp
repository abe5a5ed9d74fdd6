#include <concurry/codec.hpp>

namespace concurry {

void decoder::fail(const std::string& what) const {
  throw codec_error{"concurry codec: " + what + " (at byte " + std::to_string(pos_) + ")"};
}

} // namespace concurry
