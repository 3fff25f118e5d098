// libFuzzer target: the Sigma loader (parse_rule on Sigma-shaped input:
// logsource, detection, modifiers, conditions, regexes) must turn any
// input into a Rule or a RuleError, never crash, hang or leak. Inputs that
// lack Sigma's keys are given them, so most of the fuzzer's work reaches
// the translator rather than the native-rule parser (rules_fuzz covers that).

#include <airssys/daemoneye/rule.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string doc(text);
  // Without `detection:` the input becomes the body of one.
  if (text.find("detection") == std::string_view::npos) {
    doc = "title: fuzz\nlogsource: {product: linux, category: process_creation}\ndetection:\n";
    doc += text;
  }
  auto rule = airssys::daemoneye::parse_rule(doc, "fuzz.yml");
  if (rule) {
    volatile std::size_t n = rule->id.size() + rule->query.size() + rule->tags.size();
    (void)n;
  } else {
    volatile std::size_t n = rule.error().message.size();
    (void)n;
  }
  return 0;
}
