#include <airssys/daemoneye/burst_trim.hpp>

#include <malloc.h>

namespace airssys::daemoneye {

bool BurstTrim::quiet() noexcept {
  if (since_ >= after_) {
    since_ = 0;
    left_ = extra_ + 1;
  }
  if (left_ <= 0) return false;
  --left_;
  ::malloc_trim(0);
  ++trims_;
  return true;
}

}  // namespace airssys::daemoneye
