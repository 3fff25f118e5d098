#include <airssys/osl/activity.hpp>

#include <unistd.h>

#include <cerrno>

#include "activity/record_json.hpp"

namespace airssys::osl {

namespace {
class StderrSink final : public ActivitySink {
 public:
  std::expected<void, Error> write(std::span<const ActivityRecord> batch) override {
    std::string buf;
    for (const auto& r : batch) {
      append_json_line(buf, r);
      buf += '\n';
    }
    std::size_t off = 0;
    while (off < buf.size()) {
      const ssize_t n = ::write(STDERR_FILENO, buf.data() + off, buf.size() - off);
      if (n < 0) {
        if (errno == EINTR) continue;
        return std::unexpected(Error::from_errno(errno, "audit: writing to stderr"));
      }
      off += static_cast<std::size_t>(n);
    }
    return {};
  }
  std::string name() const override { return "stderr"; }
};
}  // namespace

std::unique_ptr<ActivitySink> make_stderr_sink() { return std::make_unique<StderrSink>(); }

}  // namespace airssys::osl
