#pragma once
// ExeHasher — SHA-256 of running executables, each distinct binary hashed once.
//
// The file is opened through /proc/PID/exe (osl::proc::Reader::open_exe):
// the kernel resolves that magic link to the very inode the process has
// mapped, not by path, so a symlink or a rename planted by someone else
// cannot make us hash another file (O_NOFOLLOW cannot be used: the link
// would be refused with ELOOP; following it is the safe part). Only regular
// files up to max_size bytes are hashed (OpenSSL EVP SHA-256).
//
// Results are cached by (device, inode, size, mtime, ctime): an unchanged
// binary is hashed once however many processes run it; a binary rewritten in
// place is hashed again even when whoever rewrote it set its mtime back
// (utimensat can forge mtime, not ctime: every write and every utimensat
// moves ctime to now). A file whose stat changed while we read it is not
// cached. The cache holds at most max_entries binaries and
// forgets the least recently used.
//
// Budget: hashing runs on procmond's scan thread, and anyone may start a
// process from a large sparse file (256 MiB of zeros reads in ~0.3 s) under
// a new inode or mtime each time. Per collection (begin_collection()), files
// are read only while the bytes read stay within budget_bytes and the time
// since begin_collection() within budget_time (the first file read in a
// collection always is, so every collection makes progress); the rest get "" this time
// (`deferred`) and are hashed in a later collection. Files on network or
// FUSE file systems (fstatfs magic: NFS, SMB/CIFS, Ceph, 9P, AFS, FUSE …)
// are not read at all (`remote`): a hung server or a FUSE daemon could
// block the thread indefinitely.
//
// The collector reads files off its own thread (a stalled file system must
// not stop a collection): it asks cached() and may_read() on its thread,
// runs read_image() on a helper thread, and hands the outcome to record().
//
// Thread safety: one thread at a time; read_image() is a free function any
// thread may call.

#include <airssys/osl/proc.hpp>

#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <unordered_map>

namespace airssys::daemoneye {

struct ExeHasherOptions {
  std::uint64_t max_size = 256ull * 1024 * 1024;
  std::size_t max_entries = 4096;
  std::uint64_t budget_bytes = 512ull * 1024 * 1024;  // per collection; 0: no byte budget
  std::chrono::milliseconds budget_time{2000};         // per collection; 0: no time budget
  bool skip_remote = true;                              // network and FUSE file systems
};

struct HashStats {
  std::uint64_t hits = 0;     // answered from the cache
  std::uint64_t misses = 0;   // files read and hashed
  std::uint64_t skipped = 0;  // not regular, too big, or unreadable
  std::uint64_t evictions = 0;
  std::uint64_t deferred = 0;  // over this collection's budget: "" now, hashed later
  std::uint64_t remote = 0;    // on a network or FUSE file system: never read
};

// True for the statfs f_type of a network or FUSE file system.
[[nodiscard]] bool is_remote_fs(std::int64_t f_type) noexcept;

// What reading one open executable found. No cache, no budget: safe on any
// thread.
struct ImageRead {
  enum class Outcome : std::uint8_t {
    hashed,   // hex is the SHA-256 of the file as `before` describes it
    skipped,  // not regular, too big, unreadable
    remote,   // on a network or FUSE file system (with skip_remote): not read
    changed,  // its stat changed while it was read: hex may mix two versions
  };
  Outcome outcome = Outcome::skipped;
  struct ::stat before{};
  bool have_before = false;
  std::string hex;
};
// `progress` (if given) is incremented after each chunk read.
[[nodiscard]] ImageRead read_image(int fd, const ExeHasherOptions& options,
                                   std::atomic<std::uint64_t>* progress = nullptr);

class ExeHasher {
 public:
  explicit ExeHasher(ExeHasherOptions options = {});

  // Starts a collection: its byte and time budget start afresh.
  void begin_collection() noexcept;

  // Lower-case hex SHA-256 of `p`'s executable, or "" when it cannot be
  // hashed (kernel thread, gone, permission, not regular, too big).
  // `known`: the exe_stat() the caller already has, so a cache hit costs no
  // system call.
  [[nodiscard]] std::string hash(osl::proc::Reader& reader, const osl::proc::Process& p,
                                 const struct ::stat* known = nullptr);
  // The same for an open file (the cache applies).
  [[nodiscard]] std::string hash_fd(int fd);

  // The steps of hash(), for a caller that reads the file elsewhere:
  // cached(): the answer for a file with this stat without reading it ("" for
  // one never hashed: not regular, too big), or nullopt when it must be read;
  // may_read(): whether this collection's budget lets a file of `size` bytes
  // be read now (false counts it `deferred`); record(): the outcome of
  // read_image(), cached, and the hash to report.
  [[nodiscard]] std::optional<std::string> cached(const struct ::stat& st);
  [[nodiscard]] bool may_read(std::uint64_t size) noexcept;
  std::string record(const ImageRead& read);

  [[nodiscard]] const HashStats& stats() const noexcept { return stats_; }
  [[nodiscard]] std::size_t cached() const noexcept { return index_.size(); }

 private:
  struct Key {
    std::uint64_t dev, ino, size;
    std::int64_t mtime_sec, mtime_nsec;
    std::int64_t ctime_sec, ctime_nsec;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const noexcept;
  };
  struct Entry {
    Key key;
    std::string hex;
  };
  static Key key_of(const struct ::stat& st) noexcept;
  const std::string* lookup(const Key& k);
  void remember(const Key& k, std::string hex);

  ExeHasherOptions options_;
  HashStats stats_;
  std::uint64_t used_bytes_ = 0;
  bool read_any_ = false;
  std::chrono::steady_clock::time_point began_ = std::chrono::steady_clock::now();
  std::list<Entry> lru_;  // most recently used first
  std::unordered_map<Key, std::list<Entry>::iterator, KeyHash> index_;
};

// Lower-case hex SHA-256 of everything readable from `fd` (from its current
// offset), or "" on a read error. Exposed for tests and tools.
[[nodiscard]] std::string sha256_fd(int fd);

}  // namespace airssys::daemoneye
