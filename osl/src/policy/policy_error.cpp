#include <airssys/osl/policy.hpp>

namespace airssys::osl {

std::string PolicyError::to_string() const {
  // Line 0 means the error concerns the file as a whole (unreadable, too big).
  if (line <= 0) return file + ": " + message;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message;
}

}  // namespace airssys::osl
