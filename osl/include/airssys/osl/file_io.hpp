#pragma once
// The file calls that decide whether written data is durable — write,
// pwrite, fsync, fdatasync, ftruncate, rename, unlink — behind one seam, in
// the spirit of leveldb's Env and FaultInjectionTestEnv. airssys-osl's audit
// file sink and fs executors, task-watchdog's registry, the ledger (through
// its IoHooks) and DaemonEye's SQLite store (through a VFS shim) make these
// calls through osl::io, so a test can make a chosen one fail with ENOSPC or
// EIO, come back short, or lose the data that was never synced.
//
// Production: each io:: function behaves exactly as the system call of the
// same name (return value, errno; EINTR is returned, not retried). With no
// FaultInjection alive the only cost is one atomic load and a branch.
//
// Tests: create one FaultInjection (at most one per process at a time) and
// add() Faults. A matching call is made to fail (or come back short)
// without reaching the kernel; everything else runs for real, on real files.
// crash() then cuts every file written through the seam back to what its
// last successful fsync/fdatasync made durable.
//
// Thread safety: io:: functions may be called from any thread; a
// FaultInjection's members too (they take its mutex).

#include <fcntl.h>
#include <sys/types.h>

#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace airssys::osl::io {

[[nodiscard]] ssize_t write(int fd, const void* data, std::size_t n) noexcept;
[[nodiscard]] ssize_t pwrite(int fd, const void* data, std::size_t n, off_t offset) noexcept;
[[nodiscard]] int fsync(int fd) noexcept;
[[nodiscard]] int fdatasync(int fd) noexcept;
// renameat2(2); `flags` 0 is plain renameat. Use AT_FDCWD for plain paths.
[[nodiscard]] int renameat(int from_dir, const char* from, int to_dir, const char* to, unsigned flags = 0) noexcept;
[[nodiscard]] int ftruncate(int fd, off_t length) noexcept;
// unlinkat(2); only so a crash() forgets a removed file (never made to fail).
[[nodiscard]] int unlinkat(int dir, const char* name, int flags = 0) noexcept;

// Which calls a Fault matches: write covers write and pwrite, sync covers
// fsync and fdatasync.
enum class FileCall { write, sync, rename, truncate };

struct Fault {
  FileCall call = FileCall::write;
  // Only calls on a file whose path contains this text (rename: either
  // path); empty matches every file. Paths are as /proc/self/fd shows them
  // (absolute); a rename relative to AT_FDCWD is matched on its own text.
  std::string path_contains{};
  int after = 0;  // let this many matching calls through first
  int times = 1;  // then affect this many; 0 = every later one
  int error = EIO;  // errno of the failed call (ENOSPC, EIO, EDQUOT, …)
  // write only: instead of failing, write the first `short_write` bytes for
  // real and return that count (a short write, as a full disk gives).
  std::optional<std::size_t> short_write{};
};

class FaultInjection {
 public:
  // Installs this object as the process's fault injector. Throws
  // std::logic_error if another one is alive.
  FaultInjection();
  // Uninstalls; files are left as they are (call crash() first to lose data).
  ~FaultInjection();
  FaultInjection(const FaultInjection&) = delete;
  FaultInjection& operator=(const FaultInjection&) = delete;

  void add(Fault fault);
  // How many calls a Fault made fail or come back short so far.
  [[nodiscard]] int fired() const;

  // A simulated power loss: every file written through the seam while this
  // object lived is truncated to the length it had at its last successful
  // fsync/fdatasync (or before its first write, if never synced). A rename
  // carries the file's record to its new name. Not simulated: lost renames
  // and directory entries, and old bytes overwritten in place (they stay
  // overwritten); a truncation counts as durable at once (a crash never
  // brings cut bytes back), and a file unlinked through the seam is
  // forgotten (a new file of the same name starts a new record).
  void crash();

  // Called by io::; not for tests. Each returns the call's result.
  ssize_t on_write(int fd, const void* data, std::size_t n, std::optional<off_t> offset) noexcept;
  int on_sync(int fd, bool data_only) noexcept;
  int on_rename(int from_dir, const char* from, int to_dir, const char* to, unsigned flags) noexcept;
  int on_truncate(int fd, off_t length) noexcept;
  int on_unlink(int dir, const char* name, int flags) noexcept;

 private:
  struct Armed {
    Fault fault;
    int seen = 0;
    int hit = 0;
  };
  // The Fault to apply to this call, if any (mu_ held).
  const Fault* match(FileCall call, const std::string& path, const std::string& other_path);

  mutable std::mutex mu_;
  std::vector<Armed> faults_;
  int fired_ = 0;
  std::map<std::string, off_t> synced_;  // path → length made durable
};

}  // namespace airssys::osl::io
