// The stdout sink: one line per alert, human or JSON, each line one write(2)
// so that lines from other writers of the same pipe never split one.
#include <cstring>

#include <fmt/format.h>

#include "alert_sink.hpp"

namespace airssys::daemoneye::detail {

namespace {

class StdoutSink final : public Sink {
 public:
  StdoutSink(SinkFormat format, int fd, std::shared_ptr<SinkCounters> counters, SinkLog log)
      : format_(format), fd_(fd), report_("stdout sink", std::move(counters), std::move(log)) {}

  void deliver(std::span<const Delivery> batch) override {
    for (const Delivery& d : batch) {
      std::string line = render(d, format_);
      line += '\n';
      std::size_t written = 0;
      if (const int err = write_fully(fd_, line, written); err != 0) {
        report_.failed(fmt::format("write failed: {}", std::strerror(err)));
      } else {
        report_.succeeded();
      }
    }
  }

 private:
  SinkFormat format_;
  int fd_;
  FailureReporter report_;
};

}  // namespace

std::unique_ptr<Sink> make_stdout_sink(SinkFormat format, int fd, std::shared_ptr<SinkCounters> counters, SinkLog log) {
  return std::make_unique<StdoutSink>(format, fd, std::move(counters), std::move(log));
}

}  // namespace airssys::daemoneye::detail
