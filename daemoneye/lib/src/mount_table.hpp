#pragma once
// The host's mount table, to name a file known by its filesystem's device
// and its path within that filesystem (what procmond's eBPF exec program
// reads of an image) by a path in the host's mount namespace: procmond's
// own /proc/self/mountinfo (docs/daemoneye.md "process_events", host_path).
//
// A mount of the device whose root (mountinfo's field 4) is the path or a
// directory above it names the file at its mount point (field 5) plus the
// rest of the path. Several can (bind mounts, one filesystem mounted at
// two places): the one that gives `prefer` (the kernel's path of the file
// in the exec'ing process's own mount tree, passed only when that is
// procmond's own mount namespace: a process in a namespace of its own
// chooses its paths, and could name the file by a host mount point outside
// /tmp), so a process in the host's namespace keeps the path it ran; else
// the first in a temporary directory (/tmp, /var/tmp, /dev/shm, /run/lock,
// /var/lock: what exec-from-tmp looks for, so a choice among names fails
// towards flagging); else the shortest result, the first in mountinfo
// order among equals (the least nested, usually the filesystem's main
// mount). None: the host has not mounted that part
// of the filesystem anywhere (a tmpfs private to a mount namespace, a
// container's overlay mounted in its own namespace) and the path is
// unknown. A mount point hidden under a later mount is not told apart:
// the result names where the file is in that filesystem as the host
// mounted it.
//
// Cost: the table is read again only when the kernel says it changed
// (poll() on the open file reports POLLPRI after any mount or unmount in
// procmond's namespace) or, at most once a second, when a device has no
// mount in it (a file that cannot be polled, a missed change). At most
// kMaxBytes of it are read; mounts past that are not known.
//
// Thread safety: one thread at a time (the event assembler's lock).

#include <airssys/osl/unique_fd.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace airssys::daemoneye {

struct MountEntry {
  std::uint64_t dev = 0;    // field 3, major:minor as a userspace dev_t
  std::string root;         // field 4: the mount's root within its filesystem
  std::string mount_point;  // field 5
  friend bool operator==(const MountEntry&, const MountEntry&) = default;
};

// The mounts of mountinfo text, in its order, "\ooo" escapes undone; a line
// that does not parse is skipped.
[[nodiscard]] std::vector<MountEntry> parse_mountinfo(std::string_view text);

// The path of `fs_path` (absolute, within the filesystem on `dev`) among
// `mounts`, chosen as above; nullopt when no mount shows it.
[[nodiscard]] std::optional<std::string> host_path_of(std::span<const MountEntry> mounts, std::uint64_t dev,
                                                      std::string_view fs_path, std::string_view prefer);

// True for a path in one of the temporary directories above.
[[nodiscard]] bool in_temporary_directory(std::string_view path);

// Names an image whose path in its filesystem was cut (deeper than the eBPF
// walk stores, KernelEvent::image_fs_path_cut): "<host path of its top
// directory>/…", or "…" when even that is unknown (no mount shows it, or
// deeper than the walk goes). "…" has no leading "/": no real path reads so.
[[nodiscard]] std::string cut_host_path(const std::optional<std::string>& top);

// procmond's own mount namespace, the inode of /proc/self/ns/mnt; 0 unknown.
[[nodiscard]] std::uint64_t own_mount_namespace();

struct KernelEvent;

class MountTable {
 public:
  static constexpr std::size_t kMaxBytes = std::size_t{8} << 20;

  // Opens `mountinfo` at the first lookup.
  // `reread` is the least time between two reads on a miss (tests set it).
  explicit MountTable(std::filesystem::path mountinfo = "/proc/self/mountinfo",
                      std::chrono::steady_clock::duration reread = std::chrono::seconds(1))
      : file_(std::move(mountinfo)), reread_(reread) {}

  [[nodiscard]] std::optional<std::string> host_path(std::uint64_t dev, std::string_view fs_path,
                                                     std::string_view prefer);

  // The host's path of an exec's image (ProcessEvent::host_path): its
  // kernel path preferred only when its mount namespace is `own_mnt_ns`
  // (not 0); a cut fs path named by cut_host_path; nullopt unknown.
  [[nodiscard]] std::optional<std::string> image_host_path(const KernelEvent& k, std::uint64_t own_mnt_ns);

  // Reads of the table so far (tests, and what a flood of lookups costs).
  [[nodiscard]] std::uint64_t reads() const noexcept { return reads_; }

 private:
  void read();
  [[nodiscard]] bool changed();

  std::filesystem::path file_;
  std::chrono::steady_clock::duration reread_;
  osl::UniqueFd fd_;
  std::vector<MountEntry> mounts_;
  std::chrono::steady_clock::time_point read_at_{};
  std::uint64_t reads_ = 0;
};

}  // namespace airssys::daemoneye
