#pragma once
// Filesystem operations. Each is a plain value naming what it touches; run
// it with System::run (system.hpp) — there is no other way to execute it.
//
// Paths may be relative (to the process's working directory); the pipeline
// canonicalises them (symlinks resolved, no '..' left) before the policy sees
// them, and the executor opens the final component with
// openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) relative to the pinned,
// checked parent directory, so a symlink swapped in after the check cannot
// redirect the operation.

#include <airssys/osl/done.hpp>

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace airssys::osl {

namespace fs {

enum class FileType : std::uint8_t { regular, directory, symlink, fifo, socket, block, character, unknown };
[[nodiscard]] std::string_view to_string(FileType t) noexcept;

struct Read {
  std::filesystem::path path{};
  std::uint64_t max_bytes = 256ull << 20;  // larger files fail with resource_exhausted
  using Result = std::string;
};

enum class WriteMode : std::uint8_t { overwrite, append };

struct Write {
  std::filesystem::path path{};
  std::string data{};
  WriteMode mode = WriteMode::overwrite;
  // Write to a temporary file beside the target, fsync, then rename over it:
  // readers see the old or the new content, never a mix. Overwrite mode only.
  bool atomic = false;
  bool fsync = false;        // fsync before returning (always true with atomic)
  mode_t create_mode = 0600; // for a file that does not exist yet (umask applies)
  struct Result {
    std::uint64_t bytes_written = 0;
  };
};

struct CreateDir {
  std::filesystem::path path{};
  bool recursive = false;     // create missing parents; an existing directory is then not an error
  mode_t mode = 0700;
  using Result = Done;
};

struct DirEntry {
  std::string name;
  FileType type = FileType::unknown;
};

struct List {
  std::filesystem::path path{};
  using Result = std::vector<DirEntry>;  // sorted by name, without "." and ".."
};

struct FileInfo {
  FileType type = FileType::unknown;
  std::uint64_t size = 0;
  mode_t mode = 0;  // permission bits only (07777)
  uid_t uid = 0;
  gid_t gid = 0;
  std::uint64_t inode = 0;
  std::uint64_t nlink = 0;
  std::chrono::system_clock::time_point mtime;
};

struct Stat {
  std::filesystem::path path{};
  bool follow_symlinks = true;
  using Result = FileInfo;
};

struct Delete {
  std::filesystem::path path{};
  bool recursive = false;  // required for a non-empty directory; symlinks inside are removed, never followed
  using Result = Done;
};

struct SetPermissions {
  std::filesystem::path path{};
  mode_t mode = 0600;
  using Result = Done;
};

struct Rename {
  std::filesystem::path from{};
  std::filesystem::path to{};
  bool replace = true;  // false: fail with already_exists if `to` exists
  using Result = Done;
};

}  // namespace fs
}  // namespace airssys::osl
