#pragma once
// Canonicalises a path for the policy and pins it for the executor.
//
// Result: the canonical absolute path (no symlinks, no '.', no '..') and an
// O_PATH fd of its parent directory, opened so that no symlink was followed
// on the way. Executors then open `name` relative to `parent` with
// openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS): what the policy checked is
// what gets touched, even if someone swaps a symlink in meanwhile.
//
// Fast path: a path without '..' whose directories contain no symlink costs
// one openat2 (plus one fstatat when the final component must be followed).

#include <airssys/osl/error.hpp>
#include <airssys/osl/unique_fd.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace airssys::osl::detail {

struct ResolvedPath {
  std::string path;   // canonical; on failure, the best lexical guess (for the policy and the record)
  UniqueFd parent;    // O_PATH|O_DIRECTORY of the canonical parent ("/" for the root itself)
  std::string name;   // final component; "." when path is "/"
  // Only with Missing::create_parents: components below `parent` that do not
  // exist yet, in order; `name` is then the first of them (or the last existing).
  std::vector<std::string> missing;
  // With FollowFinal::yes: lstat of the final object, taken while checking it
  // is not a symlink (fs.stat reuses it instead of a second system call).
  std::optional<struct ::stat> final_stat;
  // The path as given ended in "/" or "/.": it names a directory. An
  // existing non-directory (a symlink included, unless followed to a
  // directory) already failed resolution with ENOTDIR; an operation that
  // creates the name (a rename's target) must check what it puts there.
  bool names_directory = false;
};

enum class FollowFinal : bool { no = false, yes = true };
enum class Missing : bool { fail = false, create_parents = true };

struct Resolution {
  ResolvedPath resolved;
  std::optional<Error> error;  // set when the path cannot be resolved
  bool malformed = false;      // the input itself is bad (empty, NUL byte, too long): no path to check
};

[[nodiscard]] Resolution resolve_path(const std::filesystem::path& p, FollowFinal follow,
                                      Missing missing = Missing::fail);

// True when `p` is already in canonical form as far as its text shows
// ("/a/b/c": absolute, no ".", "..", "//" or trailing "/", no NUL, shorter
// than PATH_MAX) — decided without a system call. Whether a component is a
// symlink is not known: `p` is the canonical path only if open_canonical
// succeeds on it.
[[nodiscard]] bool lexically_canonical(const std::string& p) noexcept;

// One openat2 from "/" with RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS and
// O_NOFOLLOW: success proves that `canonical` (from lexically_canonical)
// names the object without any symlink, i.e. that it is the canonical path
// (the policy's answer about the text is the answer about the object).
// A symlink anywhere, the final component included, fails with ELOOP
// (except with O_PATH, which opens the final symlink itself). -1 and errno
// on failure; the caller falls back to resolve_path.
[[nodiscard]] int open_canonical(const std::string& canonical, int flags) noexcept;

}  // namespace airssys::osl::detail
