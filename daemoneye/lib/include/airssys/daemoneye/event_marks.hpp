#pragma once
// EventMarks — where each rule that reads process_events (a Sigma rule) has
// read up to (docs/daemoneye.md "Sigma rules", What a scan reads).
//
// run_rules (rule_runner.hpp) reads each such rule's events after its mark
// and up to the newest event when the scan began, and moves the mark only
// when the query succeeded, so every event is read once and none is
// skipped. A query that ran out of time or memory reads a smaller window
// next scan (`narrowed`, halved per failure, doubled back per success).
// The agent keeps them from scan to scan and in the store (sigma_marks,
// Store::insert_alerts with marks), so a restart goes on where the stopped
// agent's last stored scan ended; marks of rules not run (removed,
// disabled) are dropped. `held` rides along: what the rate limit still owes
// (docs/daemoneye.md "Alerts", Rate limit).

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace airssys::daemoneye {

// What the rate limit owes for one rule, as a JSON text (up to about
// 64 KiB: the summary's sample). Made once and never changed, and shared by
// the alert pipeline, the agent's marks and the store's record of what it
// wrote: a copy of EventMarks copies a pointer per rule, not the text, and a
// rule whose text was not made anew compares equal without its text being
// read. A changed state is a new HeldText.
class HeldText {
 public:
  HeldText() = default;
  explicit HeldText(std::string text) : text_(std::make_shared<const std::string>(std::move(text))) {}
  [[nodiscard]] const std::string& text() const noexcept {
    static const std::string kEmpty;
    return text_ ? *text_ : kEmpty;
  }
  // Equal texts, read only when the two are not the same text.
  friend bool operator==(const HeldText& a, const HeldText& b) noexcept {
    return a.text_ == b.text_ || a.text() == b.text();
  }

 private:
  std::shared_ptr<const std::string> text_;
};
using HeldTexts = std::map<std::string, HeldText, std::less<>>;  // rule id -> what it owes

struct EventMarks {
  std::map<std::string, std::int64_t, std::less<>> covered;   // rule id → the highest process_events.id read
  std::map<std::string, std::int64_t, std::less<>> narrowed;  // rule id → the most ids its next window holds
  // Rule id (any rule) → what the rate limit held back of the rows read and
  // no summary has told yet (AlertPipeline::held_state, a JSON text). Saved
  // with `covered` in one transaction: an event past a saved mark was
  // raised, or is owed a summary here. run_rules leaves it as it is.
  HeldTexts held;
  friend bool operator==(const EventMarks&, const EventMarks&) = default;
};

}  // namespace airssys::daemoneye
