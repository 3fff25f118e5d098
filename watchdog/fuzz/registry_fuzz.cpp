// libFuzzer target for the task registry reader: both the fast path
// (registry_fast.cpp) and the DOM path (registry.cpp), on any bytes.
// Beyond "no crash, no sanitizer report, no stack overflow":
// - what the fast path accepts, the DOM path accepts, and both read the same;
// - an accepted registry written back reads back to the same text
//   (serialize is a fixed point), and that text is accepted by the fast path;
// - a refusal has a message naming the source;
// - read one task at a time (`list`), it sees what the fast path reads, and
//   it reads everything the writer writes.

#include "registry_fast.hpp"

#include <airssys/watchdog/registry.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace wd = airssys::watchdog;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto fast = wd::detail::parse_registry_fast(text);
  const auto dom = wd::detail::parse_registry_dom(text, "fuzz.json");
  wd::RegistryData streamed;
  const bool each = wd::detail::for_each_task_fast(text, [&](const wd::TaskRecord& t) { streamed.tasks.insert_or_assign(t.id, t); });
  if (each) {
    if (!fast) std::abort();  // task by task accepted what the fast path refuses
    streamed.extra = fast->extra;  // not passed on: `list` has no use for it
    if (wd::serialize_registry(streamed) != wd::serialize_registry(*fast)) std::abort();
  }
  if (!dom) {
    if (fast) std::abort();  // the fast path accepted what the DOM path refuses
    if (dom.error().message.rfind("fuzz.json: ", 0) != 0) std::abort();
    return 0;
  }
  const std::string written = wd::serialize_registry(*dom);
  if (fast && wd::serialize_registry(*fast) != written) std::abort();
  if (!wd::detail::for_each_task_fast(written, [](const wd::TaskRecord&) {})) std::abort();
  const auto again = wd::detail::parse_registry_fast(written);
  if (!again) std::abort();  // what we write, the fast path must read
  if (wd::serialize_registry(*again) != written) std::abort();
  const auto full = wd::parse_registry(text, "fuzz.json");
  if (!full || wd::serialize_registry(*full) != written) std::abort();
  return 0;
}
