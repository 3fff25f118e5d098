// make_write_through: a sink whose records must be written before an operation runs.

#include <airssys/osl/activity.hpp>

namespace airssys::osl {

namespace {

class WriteThroughSink final : public ActivitySink {
 public:
  explicit WriteThroughSink(std::shared_ptr<ActivitySink> inner) : inner_(std::move(inner)) {}
  std::expected<void, Error> write(std::span<const ActivityRecord> batch) override { return inner_->write(batch); }
  std::string name() const override { return inner_->name(); }
  bool write_through() const override { return true; }

 private:
  std::shared_ptr<ActivitySink> inner_;
};

}  // namespace

std::shared_ptr<ActivitySink> make_write_through(std::shared_ptr<ActivitySink> sink) {
  if (!sink) return nullptr;
  return std::make_shared<WriteThroughSink>(std::move(sink));
}

}  // namespace airssys::osl
