// libFuzzer target: any bytes as a config document. apply_yaml must return
// ok or an error, never crash, hang or leak; an error must name the source.
#include <airssys/daemoneye/config.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  airssys::daemoneye::Config config;
  const auto r = airssys::daemoneye::apply_yaml(config, text, "fuzz.yaml");
  if (!r && !r.error().message.starts_with("fuzz.yaml")) std::abort();
  return 0;
}
