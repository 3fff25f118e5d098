#pragma once
// Full verification of a ledger directory: recomputes every leaf hash from
// its entry and every stored subtree hash from its children, checks the
// offsets and length fields, the committed root in `head`, and every stored
// checkpoint (its signature, and that its root is the root of the ledger at
// its size). Reads each file once, sequentially; needs no writer lock.

#include <airssys/ledger/checkpoint.hpp>
#include <airssys/ledger/error.hpp>
#include <airssys/ledger/merkle.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace airssys::ledger {

struct VerifyOptions {
  // Key for checkpoint signatures. Without one, DIR/pubkey.pem is used if
  // present (which an attacker who can write the directory could replace:
  // pass the key you trust for an independent check).
  std::optional<PublicKey> public_key{};
};

struct VerifyReport {
  bool intact = true;
  std::uint64_t size = 0;                       // entries the head commits
  Hash root{};                                  // recomputed root at `size`
  std::optional<std::uint64_t> first_bad_index;  // set when an entry or its hashes are bad
  std::string problem;                          // the first problem found ("" when intact)
  std::vector<std::string> notes;               // observations that are not tampering
  std::uint64_t entry_bytes = 0;                // payload bytes hashed
  std::uint64_t hashed_bytes = 0;               // all bytes fed to SHA-256
  std::uint64_t checkpoints_checked = 0;
};

// Errors are for a verification that could not run (not a ledger, I/O);
// tampering is a report with intact == false.
[[nodiscard]] Result<VerifyReport> verify(const std::filesystem::path& dir, const VerifyOptions& options = {});

}  // namespace airssys::ledger
