// libFuzzer target: arbitrary bytes as a signed tree head (the JSON that
// `verify-checkpoint` and read_checkpoints parse). Parsing must never crash,
// hang or throw; an accepted head must print back to JSON that parses to the
// same head (one spelling per value), and checking it against a key must not
// crash either.

#include <airssys/ledger/checkpoint.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>

namespace L = airssys::ledger;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::optional<L::SigningKey> key = [] {
    auto k = L::SigningKey::generate();
    return k ? std::optional<L::SigningKey>(std::move(*k)) : std::nullopt;
  }();
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto sth = L::SignedTreeHead::from_json(text);
  if (!sth) {
    (void)sth.error().to_string();
    return 0;
  }
  const auto again = L::SignedTreeHead::from_json(sth->to_json());
  if (!again || again->head.tree_size != sth->head.tree_size || again->head.timestamp_ms != sth->head.timestamp_ms ||
      again->head.root != sth->head.root || again->signature != sth->signature || again->key_id != sth->key_id) {
    std::abort();  // to_json and from_json disagree
  }
  if (key) (void)L::verify_tree_head(*sth, key->public_key());
  return 0;
}
