#pragma once
// Ledger continuity — does the audit ledger the agent found at start go on
// from the one the store last followed?
//
// The store's ledger mark (Store::alert_ledger_mark, table alert_ledger) is
// the ledger size its alerts were complete up to and the ledger's root at
// that size. A ledger moved away, deleted, cut short or rebuilt since leaves
// that mark pointing past the ledger's end, or at a size whose root differs.
// The agent cannot tell an operator's rotation from an intruder removing the
// evidence, so it says so every time, loudly (an error in its log and one
// high alert, kLedgerDiscontinuityRule, through the alert pipeline: ledger,
// sinks, store) and goes on with the ledger it has: monitoring does not stop
// over it. docs/daemoneye.md "The audit ledger: what it detects".
//
// Read-only; call it at start before AlertLedgerSync::catch_up moves the
// mark onto the ledger found. What it finds is saved in the store first
// (pending_text, Store::save_pending_ledger_discontinuities) and cleared
// once raised: a start that fails after the catch-up moved the mark (a sink
// that cannot open, ...) leaves it for the next start, which raises it, and
// compares the ledger with what the saved one found (`after`), not with the
// mark it no longer follows.

#include <airssys/daemoneye/alert.hpp>
#include <airssys/daemoneye/error.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace airssys::ledger {
class Ledger;
enum class ErrorCategory;
}

namespace airssys::daemoneye {

class Store;

inline constexpr std::string_view kLedgerDiscontinuityRule = "daemoneye-ledger-discontinuity";

struct LedgerDiscontinuity {
  enum class Kind {
    missing,     // no ledger at ledger.dir (or an empty directory): an empty one was made
    shorter,     // fewer entries than the mark counts
    other_root,  // as many entries or more, but another root at the mark's size
    // The ledger found could not be read (I/O error, a damaged file, a
    // directory where a file should be), or its root at the mark, or the
    // store's mark: nothing could be compared. `reason` says why.
    unverifiable,
  };
  Kind kind = Kind::missing;
  std::uint64_t expected_size = 0;
  std::string expected_root;  // hex
  std::uint64_t found_size = 0;
  std::string found_root;  // hex: the root at expected_size for other_root, else at found_size
  std::string reason;      // unverifiable: "unverifiable: <the error>"
};

// Nothing (nullopt) when the store has no mark, a mark of size 0, or a mark
// the ledger goes on from. `created`: the agent made the ledger just now
// (there was none, or an empty directory). `after`: a discontinuity an
// earlier start found and did not raise; the ledger is expected to go on
// from what it found, not from the store's mark. Errors: the store's mark
// or the ledger's root cannot be read.
[[nodiscard]] Result<std::optional<LedgerDiscontinuity>> check_ledger_continuity(
    const ledger::Ledger& ledger, Store& store, bool created, const LedgerDiscontinuity* after = nullptr);

// When the ledger found, its root at the store's mark, or the mark could
// not be read (`error`): expected is the store's mark as far as it can be
// read (0 and "" when not; what `after` found when given), found the head
// of `in_use`, the ledger the agent goes on with.
[[nodiscard]] LedgerDiscontinuity unverifiable_ledger(const ledger::Ledger& in_use, Store& store,
                                                      std::string_view error, const LedgerDiscontinuity* after = nullptr);

// A ledger that could not be read and was set aside (`error` says why and
// where it went): expected as unverifiable_ledger's, found the new empty
// ledger made in its place (size 0, the empty tree's root), known before
// it is made, so that it can be saved first.
[[nodiscard]] LedgerDiscontinuity set_aside_ledger(Store& store, std::string_view error,
                                                   const LedgerDiscontinuity* after = nullptr);

// Whether a ledger that failed to open with this error is damaged for good
// and may be set aside: corrupt (what it holds contradicts itself, a
// symbolic link or a non-file where a file should be), or a directory or a
// link where a file should be (EISDIR, ELOOP). Not an I/O error, a lack of
// memory or descriptors, a lock or a full disk: those may pass, and the
// start fails instead (exit 1, retried), leaving the ledger as it is.
[[nodiscard]] bool damaged_for_good(ledger::ErrorCategory category, int errno_value) noexcept;

// The discontinuities not raised yet, as the store keeps them (a JSON
// array; "" for none), and back. A text that cannot be read back is an
// error (corrupt).
[[nodiscard]] std::string pending_text(std::span<const LedgerDiscontinuity> pending);
[[nodiscard]] Result<std::vector<LedgerDiscontinuity>> pending_from(std::string_view text);

// One sentence naming what was expected and what was found, for the log.
[[nodiscard]] std::string describe(const LedgerDiscontinuity& d, std::string_view ledger_dir);

// The alert that tells it: rule kLedgerDiscontinuityRule, severity high,
// tag "daemoneye.ledger", row {"problem", "ledger_dir", "expected_size",
// "expected_root", "found_size", "found_root"}, and "reason" for
// unverifiable; its dedup key names both heads (and "unverifiable"), so no
// later discontinuity is taken for this one.
[[nodiscard]] Alert discontinuity_alert(const LedgerDiscontinuity& d, std::string_view ledger_dir,
                                        const std::string& host, std::int64_t now);

}  // namespace airssys::daemoneye
