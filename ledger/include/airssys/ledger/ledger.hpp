#pragma once
// airssys::ledger::Ledger — an append-only, tamper-evident log stored in one
// directory (format: docs/ledger.md), whose entries are the leaves of an
// RFC 6962 Merkle tree.
//
// Durability: append() and append_batch() return only after the entries and
// the new tree head are on stable storage (fdatasync). Concurrent appenders
// share one group commit: one thread writes everything queued and syncs once
// for all of them (so N threads appending one entry each cost ~one fsync).
//
// Crash recovery: the `head` file is the commit record. On open for writing,
// bytes beyond the committed size in the other files (a write torn by a crash)
// are truncated away with a warning; they were never acknowledged. Data
// shorter than the head claims, or stored hashes that do not lead to the
// head's root, is corruption: open fails with `corrupt` and `verify` names the
// first bad index.
//
// Roots and proofs read O(log n) stored hashes of perfect subtrees; nothing
// rescans the log. One process may hold a ledger open for writing (flock on
// `lock`, refused with `busy`); any number may open it read-only, each seeing
// the committed size at the moment it opened.
//
// Thread safety: every member function is thread-safe.

#include <airssys/ledger/error.hpp>
#include <airssys/ledger/merkle.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace airssys::ledger {

// The largest entry append() takes (1 GiB).
inline constexpr std::uint64_t kMaxEntryBytes = std::uint64_t{1} << 30;

struct OpenOptions {
  bool read_only = false;  // no lock, no recovery writes, no appends
};

class Ledger {
 public:
  // Creates a new, empty ledger. `dir` may exist if it is empty (mode 0700 when created).
  [[nodiscard]] static Result<std::unique_ptr<Ledger>> create(const std::filesystem::path& dir);
  [[nodiscard]] static Result<std::unique_ptr<Ledger>> open(const std::filesystem::path& dir, OpenOptions options = {});

  ~Ledger();
  Ledger(const Ledger&) = delete;
  Ledger& operator=(const Ledger&) = delete;

  // Appends one entry (any bytes, possibly empty, at most 1 GiB); returns its index.
  [[nodiscard]] Result<std::uint64_t> append(ByteView entry);
  // Appends entries with consecutive indices in one commit; returns the first index.
  [[nodiscard]] Result<std::uint64_t> append_batch(std::span<const ByteView> entries);

  [[nodiscard]] std::uint64_t size() const noexcept;  // committed entries
  [[nodiscard]] Hash root() const;                    // root at size()
  // The committed size and the root at that size, read together. size()
  // then root() can straddle another thread's append and pair a size with
  // a later root, which a verifier reads as tampering.
  struct Head {
    std::uint64_t size = 0;
    Hash root{};
  };
  [[nodiscard]] Head head() const;
  [[nodiscard]] Result<Hash> root(std::uint64_t size) const;
  [[nodiscard]] Result<std::vector<Hash>> inclusion_proof(std::uint64_t index, std::uint64_t size) const;
  [[nodiscard]] Result<std::vector<Hash>> consistency_proof(std::uint64_t size1, std::uint64_t size2) const;
  [[nodiscard]] Result<std::vector<std::uint8_t>> entry(std::uint64_t index) const;
  [[nodiscard]] Result<Hash> leaf_hash(std::uint64_t index) const;

  // What open() repaired (e.g. a torn tail it truncated), one sentence each.
  [[nodiscard]] const std::vector<std::string>& warnings() const noexcept;
  [[nodiscard]] const std::filesystem::path& dir() const noexcept;
  [[nodiscard]] bool read_only() const noexcept;

  struct Impl;

 private:
  explicit Ledger(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace airssys::ledger
