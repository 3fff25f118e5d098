#pragma once
// Per-actor mailbox settings, given at spawn time.
#include <chrono>
#include <cstdint>

namespace airssys::rt {

// What a bounded mailbox does with a message that does not fit.
enum class Overflow : std::uint8_t {
  fail,         // tell() returns ErrorCategory::mailbox_full; nothing is enqueued
  drop_newest,  // the new message is dropped (counted); tell() succeeds
  drop_oldest,  // enqueued; the receiver discards its oldest messages beyond capacity (counted)
  block,        // the sender waits for room (up to block_timeout). Only plain threads block:
                // a sender running on a worker gets ErrorCategory::mailbox_full instead, so a worker
                // never blocks.
};

struct MailboxConfig {
  std::uint32_t capacity = 0;  // 0: unbounded
  Overflow overflow = Overflow::fail;
  std::chrono::milliseconds block_timeout{5000};
  std::uint32_t batch = 0;  // messages per activation before yielding; 0: the system default
};

}  // namespace airssys::rt
