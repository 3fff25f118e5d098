#pragma once
// Whole-tree work for a recursive delete and a directory rename, with a
// per-entry veto so that deny rules on entries below the named path are
// honoured (the policy only ever saw the named path).
//
// Every subdirectory is opened relative to its parent with O_NOFOLLOW: a
// symlink inside the tree is an entry of its own (deleted or checked as a
// link), never followed out of the tree.

#include <airssys/osl/error.hpp>

#include <expected>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace airssys::osl::detail {

// Why an entry must stay ("denied by rule no-git"), or nullopt to go ahead.
using EntryVeto = std::function<std::optional<std::string>(std::string_view path)>;

struct KeptEntry {
  std::string path;
  std::string reason;
};

// Removes everything inside directory `dirfd` (owned by the call), skipping
// each entry `veto` objects to (a vetoed directory is not descended into) and
// every directory that still holds a kept entry. `veto` may be empty.
// Kept entries are appended to `kept`.
[[nodiscard]] std::expected<void, Error> remove_contents(int dirfd, const std::string& path, const EntryVeto& veto,
                                                         std::vector<KeptEntry>& kept);

// Calls `veto` for every entry below directory `dirfd` (owned by the call),
// depth first; stops after `limit` objections. The vetoed entries come back.
[[nodiscard]] std::expected<std::vector<KeptEntry>, Error> find_vetoed(int dirfd, const std::string& path,
                                                                        const EntryVeto& veto, std::size_t limit);

// "N entries …: a (why), b (why), and M more" — at most a few named.
[[nodiscard]] std::string describe_kept(const std::vector<KeptEntry>& kept);

}  // namespace airssys::osl::detail
