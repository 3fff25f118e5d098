#pragma once
// NatsSpool — the on-disk queue of a NatsForwarder (the nats alert sink,
// process-event forwarding): every message JetStream has not acked yet,
// oldest first, surviving an outage of NATS and a restart (or crash) of the
// agent. The records say "alert"; an events spool holds events the same way.
//
// Files, in the spool directory (created 0700 if missing; it must be a real
// directory, not a symbolic link, owned by the agent's user and writable by
// no one else), for the spool named NAME ("alerts" or "events"):
//   lock (alerts) / NAME.lock (others)  flock(LOCK_EX) for the spool's
//                 lifetime: one spool, one agent
//   NAME.spool    0600, the records below, appended with O_APPEND
//   NAME.spool.tmp  only while the file is being rewritten from memory
//   NAME.spool.compact  only while it is being compacted (another name: a
//                 compaction is written without the caller's lock, while a
//                 rewrite may run)
// A new directory and a new spool file are made durable (fsync of the
// directory that holds them) before open() returns.
// Records (docs/daemoneye.md "Forwarding to NATS JetStream"):
//   "m IDLEN JSONLEN\n" ID JSON "\n"   an alert: its Nats-Msg-Id and its JSON
//   "a N\n"                            the N oldest alerts were acked
//   "d N\n"                            the N oldest alerts were dropped (spool full)
// Durability: append() writes and fdatasyncs before it returns, so an alert
// the sink accepted is on disk. Ack and drop records are written but not
// synced: a crash of the agent keeps them (they are in the page cache); only
// a crash of the machine can lose one, and then the alert is published again
// after the restart and JetStream drops the copy by its Nats-Msg-Id within
// the stream's duplicate window (past it, it is delivered twice: at least
// once). Syncing every ack would add an fdatasync per message to the
// sender's path. When nothing is left the file is truncated to zero;
// when dead records outweigh max_size it is rewritten (temp file, fdatasync,
// rename, directory fsync). A torn or damaged record (a crash mid-append, a
// damaged disk) ends the readable part: what follows is cut off and logged.
// Writes go through osl::io, so tests can make them fail.
//
// Bound: max_size is at most kNatsSpoolMaxSize (open() refuses more: the
// whole spool is also held in memory). The alerts kept (their ID and JSON bytes plus the record header)
// stay within max_size; appending beyond it drops the oldest first (the
// caller counts and logs them). A failed write keeps the alert in memory
// (not durable; the error is returned) and the next write first rewrites
// the whole file from memory, which makes those alerts durable again.
//
// Not thread-safe: the sink calls it under its own mutex.

#include <airssys/daemoneye/error.hpp>
#include <airssys/osl/unique_fd.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace airssys::daemoneye::detail {

inline constexpr std::uint64_t kNatsSpoolMaxSize = 1ull << 30;  // 1 GiB

class NatsSpool {
 public:
  struct Message {
    std::uint64_t seq = 0;  // position in this spool's life, for ack()
    std::string id;         // Nats-Msg-Id
    std::string json;       // the alert
  };
  struct Entry {
    std::string id, json;
  };
  struct Appended {
    std::uint64_t dropped = 0;  // oldest alerts dropped to make room (or new ones larger than max_size)
    Result<void> written;       // error: kept in memory only
  };
  using Log = std::function<void(std::string_view)>;

  // Opens or creates the spool `name` in `dir` and reads back what it
  // holds (`log` hears about cut-off damage). Errors: invalid_input
  // (max_size above kNatsSpoolMaxSize), denied (an unsafe directory or
  // file, or the lock is held by another sink or process), io.
  [[nodiscard]] static Result<std::unique_ptr<NatsSpool>> open(const std::filesystem::path& dir, std::uint64_t max_size,
                                                               Log log, std::string_view name = "alerts");
  ~NatsSpool();
  NatsSpool(const NatsSpool&) = delete;
  NatsSpool& operator=(const NatsSpool&) = delete;

  [[nodiscard]] Appended append(std::vector<Entry> entries);
  // The oldest alert not acked yet.
  [[nodiscard]] std::optional<Message> front() const;
  // Removes the oldest alert if it is still `seq` (it may have been dropped
  // meanwhile). The error is the ack record's write; the alert is gone from
  // memory either way.
  [[nodiscard]] Result<void> ack(std::uint64_t seq);

  // Compaction (rewriting the file without its dead records) in three
  // steps, so that a caller can release its lock while the file is written:
  // begin (lock held: copies the live records), write (no lock needed:
  // touches only the new file and what never changes after open), finish
  // (lock held: adds what was appended or dropped meanwhile, renames, syncs
  // the directory). finish() gives up quietly if the file was replaced
  // meanwhile (a failed write's repair). With defer_compaction(true), ack()
  // leaves compaction to the caller (compaction_due()); else it compacts at
  // once.
  // begin copies pointers, not payloads (the spool holds each alert once,
  // shared): a compaction's peak memory is the spool plus 16 bytes an
  // alert plus write's 1 MiB buffer, and begin holds the caller's lock only
  // for that pointer copy.
  struct Compaction {
    std::vector<std::shared_ptr<const Entry>> records;  // the live alerts at begin
    std::uint64_t size = 0;                              // their records' bytes
    std::uint64_t first_seq = 0, count = 0;
    std::uint64_t generation = 0;
  };
  void defer_compaction(bool on) noexcept { defer_compaction_ = on; }
  [[nodiscard]] bool compaction_due() const noexcept;
  [[nodiscard]] Compaction begin_compaction() const;
  [[nodiscard]] Result<osl::UniqueFd> write_compaction(const Compaction& c) const;
  [[nodiscard]] Result<void> finish_compaction(const Compaction& c, osl::UniqueFd tmp);
  // A caller whose write_compaction() failed says so (lock held), so that
  // compaction_due() waits kCompactionRetry before the next try (a failed
  // finish_compaction() counts by itself). A failed step has removed its
  // NAME.spool.compact.
  void compaction_failed() noexcept;
  static constexpr std::chrono::seconds kCompactionRetry{5};

  [[nodiscard]] std::size_t size() const noexcept { return live_.size(); }
  [[nodiscard]] std::uint64_t bytes() const noexcept { return live_bytes_; }
  [[nodiscard]] std::uint64_t file_size() const noexcept { return file_size_; }
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

 private:
  NatsSpool(std::filesystem::path dir, std::string_view name, std::uint64_t max_size, Log log);
  [[nodiscard]] Result<void> load();
  // Removes the `n` oldest and writes `kind` n ("a" or "d").
  [[nodiscard]] Result<void> pop(std::size_t n, char kind);
  [[nodiscard]] Result<void> write_record(const std::string& bytes, bool sync);
  [[nodiscard]] Result<void> rewrite();
  [[nodiscard]] bool rewrite_throttled() const;
  [[nodiscard]] Result<void> tidy();
  void push(Entry e);

  std::filesystem::path dir_;
  std::string file_, tmp_, compact_;  // NAME.spool, NAME.spool.tmp, NAME.spool.compact
  std::filesystem::path path_;
  std::uint64_t max_size_;
  Log log_;
  osl::UniqueFd dir_fd_, lock_fd_, fd_;
  struct Held {
    std::uint64_t seq = 0;
    std::shared_ptr<const Entry> rec;  // shared with a running compaction
  };
  std::deque<Held> live_;
  std::uint64_t live_bytes_ = 0;
  std::uint64_t file_size_ = 0;
  std::uint64_t next_seq_ = 1;
  bool needs_rewrite_ = false;  // the file does not match live_ (a failed write)
  bool defer_compaction_ = false;
  std::uint64_t generation_ = 0;  // counts replacements and truncations of the file
  std::chrono::steady_clock::time_point last_rewrite_attempt_{};
  bool compaction_failed_ = false;
  std::chrono::steady_clock::time_point last_compaction_failure_{};
};

}  // namespace airssys::daemoneye::detail
