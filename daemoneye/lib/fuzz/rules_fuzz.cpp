// libFuzzer target: parse_rule must turn any input into a Rule or a
// RuleError, never crash, hang or leak (yaml-cpp's exceptions stay inside).

#include <airssys/daemoneye/rule.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto rule = airssys::daemoneye::parse_rule(text, "fuzz.yaml");
  // Touch the result so every field is really built.
  if (rule) {
    volatile std::size_t n = rule->id.size() + rule->query.size() + rule->tags.size() + rule->key_columns.size();
    (void)n;
  } else {
    volatile std::size_t n = rule.error().message.size();
    (void)n;
  }
  return 0;
}
