#include "nats_spool.hpp"

#include <airssys/osl/file_io.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <charconv>

namespace airssys::daemoneye::detail {

namespace {


std::string message_record(std::string_view id, std::string_view json) {
  std::string r = fmt::format("m {} {}\n", id.size(), json.size());
  r.reserve(r.size() + id.size() + json.size() + 1);
  r += id;
  r += json;
  r += '\n';
  return r;
}

std::uint64_t record_size(std::string_view id, std::string_view json) {
  return fmt::formatted_size("m {} {}\n", id.size(), json.size()) + id.size() + json.size() + 1;
}

// "N" → N; nullopt for anything else (no sign, no spaces, no leading junk).
// A whole decimal number into `out` (left as it was when false). A bool and
// an out-parameter rather than an optional: g++ 12 at -O2 takes the
// optional's payload for "maybe uninitialized" in load()'s checks.
bool parse_number(std::string_view s, std::uint64_t& out) {
  std::uint64_t n = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (s.empty() || ec != std::errc{} || p != s.data() + s.size()) return false;
  out = n;
  return true;
}

std::optional<std::uint64_t> number(std::string_view s) {
  std::uint64_t n = 0;
  if (!parse_number(s, n)) return std::nullopt;
  return n;
}

// Writes all of `data` through the fault seam.
int write_all(int fd, std::string_view data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = osl::io::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return EIO;
    done += static_cast<std::size_t>(n);
  }
  return 0;
}

}  // namespace

NatsSpool::NatsSpool(std::filesystem::path dir, std::string_view name, std::uint64_t max_size, Log log)
    : dir_(std::move(dir)),
      file_(fmt::format("{}.spool", name)),
      tmp_(fmt::format("{}.spool.tmp", name)),
      compact_(fmt::format("{}.spool.compact", name)),
      path_(dir_ / file_),
      max_size_(max_size),
      log_(std::move(log)) {}

NatsSpool::~NatsSpool() = default;

Result<std::unique_ptr<NatsSpool>> NatsSpool::open(const std::filesystem::path& dir, std::uint64_t max_size, Log log,
                                                   std::string_view name) {
  const std::string where = fmt::format("spool {}", dir.string());
  if (max_size > kNatsSpoolMaxSize) {
    return fail(ErrorCategory::invalid_input,
                fmt::format("{}: max_size {} is above the limit of {} bytes (1GiB; the spool is also held in memory)",
                            where, max_size, kNatsSpoolMaxSize));
  }
  std::unique_ptr<NatsSpool> s(new NatsSpool(dir, name, max_size, std::move(log)));
  const std::string lock_name = name == "alerts" ? std::string("lock") : fmt::format("{}.lock", name);
  bool made_dir = false;
  if (::mkdir(dir.c_str(), 0700) == 0) {
    made_dir = true;
  } else if (errno != EEXIST) {
    return fail_errno(errno, where);
  }
  s->dir_fd_.reset(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!s->dir_fd_) {
    if (errno == ELOOP || errno == ENOTDIR) return fail(ErrorCategory::denied, where + ": not a directory (or a symbolic link)");
    return fail_errno(errno, where);
  }
  struct stat st{};
  if (::fstat(s->dir_fd_.get(), &st) != 0) return fail_errno(errno, where);
  if (st.st_uid != ::geteuid() || (st.st_mode & 022) != 0) {
    return fail(ErrorCategory::denied,
                where + ": must be owned by the agent's user and writable by no one else (chmod 700)");
  }
  if (made_dir) {
    // The new directory's entry lives in its parent: durable before anything is accepted into it.
    const auto parent = dir.parent_path().empty() ? std::filesystem::path(".") : dir.parent_path();
    const osl::UniqueFd parent_fd(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!parent_fd || osl::io::fsync(parent_fd.get()) != 0) return fail_errno(errno, "sync " + parent.string());
  }
  s->lock_fd_.reset(::openat(s->dir_fd_.get(), lock_name.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!s->lock_fd_) return fail_errno(errno, where + "/" + lock_name);
  if (::flock(s->lock_fd_.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) return fail(ErrorCategory::busy, where + ": in use by another nats sink or agent");
    return fail_errno(errno, where + "/" + lock_name);
  }
  bool made_file = false;
  s->fd_.reset(
      ::openat(s->dir_fd_.get(), s->file_.c_str(), O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (s->fd_) {
    made_file = true;
  } else if (errno == EEXIST) {
    s->fd_.reset(::openat(s->dir_fd_.get(), s->file_.c_str(), O_RDWR | O_APPEND | O_NOFOLLOW | O_CLOEXEC));
  }
  if (!s->fd_) {
    if (errno == ELOOP) return fail(ErrorCategory::denied, s->path_.string() + ": is a symbolic link");
    return fail_errno(errno, s->path_.string());
  }
  if (::fstat(s->fd_.get(), &st) != 0) return fail_errno(errno, s->path_.string());
  if (!S_ISREG(st.st_mode) || st.st_nlink != 1 || st.st_uid != ::geteuid()) {
    return fail(ErrorCategory::denied, s->path_.string() + ": not a regular file of the agent's user with one link");
  }
  if ((st.st_mode & 077) != 0 && ::fchmod(s->fd_.get(), 0600) != 0) return fail_errno(errno, s->path_.string());
  // A new file's name is durable only with its directory: else a crash
  // could lose the file with every alert appended (and fdatasynced) to it.
  if (made_file && osl::io::fsync(s->dir_fd_.get()) != 0) return fail_errno(errno, "sync " + dir.string());
  if (auto loaded = s->load(); !loaded) return std::unexpected(loaded.error());
  return s;
}

Result<void> NatsSpool::load() {
  std::string data;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::pread(fd_.get(), buf, sizeof buf, static_cast<off_t>(data.size()));
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_errno(errno, "read " + path_.string());
    }
    if (n == 0) break;
    data.append(buf, static_cast<std::size_t>(n));
  }
  bool dead_records = false;
  std::size_t pos = 0;
  std::string damage;
  while (pos < data.size()) {
    const auto nl = data.find('\n', pos);
    if (nl == std::string::npos) {
      damage = "a torn record at the end";
      break;
    }
    const std::string_view header(data.data() + pos, nl - pos);
    if (header.size() > 2 && header[0] == 'm' && header[1] == ' ') {
      const auto space = header.find(' ', 2);
      std::uint64_t id_len = 0, json_len = 0;
      const bool lengths = space != std::string_view::npos && parse_number(header.substr(2, space - 2), id_len) &&
                           parse_number(header.substr(space + 1), json_len);
      if (!lengths || id_len > data.size() || json_len > data.size() || nl + 1 + id_len + json_len >= data.size() ||
          data[nl + 1 + id_len + json_len] != '\n') {
        const bool past_end = lengths && nl + 1 + id_len + json_len >= data.size();
        damage = past_end ? "a torn record at the end" : "a damaged record";
        break;
      }
      push({data.substr(nl + 1, id_len), data.substr(nl + 1 + id_len, json_len)});
      pos = nl + 1 + id_len + json_len + 1;
      continue;
    }
    const auto n = header.size() > 2 && header[1] == ' ' ? number(header.substr(2)) : std::nullopt;
    if (!n || (header[0] != 'a' && header[0] != 'd') || *n > live_.size()) {  // !n first: an empty line has no [0]
      damage = "a damaged record";
      break;
    }
    for (std::uint64_t i = 0; i < *n; ++i) {
      live_bytes_ -= record_size(live_.front().rec->id, live_.front().rec->json);
      live_.pop_front();
    }
    dead_records = true;
    pos = nl + 1;
  }
  file_size_ = pos;
  if (pos < data.size()) {
    if (log_) {
      log_(fmt::format("{}: {} at byte {}; the {} bytes from there are discarded", path_.string(), damage, pos,
                       data.size() - pos));
    }
    if (osl::io::ftruncate(fd_.get(), static_cast<off_t>(pos)) != 0) needs_rewrite_ = true;
  }
  std::uint64_t dropped = 0;
  while (live_bytes_ > max_size_) {
    live_bytes_ -= record_size(live_.front().rec->id, live_.front().rec->json);
    live_.pop_front();
    ++dropped;
  }
  if (dropped > 0 && log_) {
    log_(fmt::format("{}: holds more than spool.max_size ({} bytes); the {} oldest alerts are dropped", path_.string(),
                     max_size_, dropped));
  }
  Result<void> tidied;
  if (live_.empty() && file_size_ > 0) {
    tidied = tidy();
  } else if (dead_records || dropped > 0 || needs_rewrite_) {
    tidied = rewrite();
  }
  // The alerts are read; a file that cannot be tidied now is rewritten on the next write.
  if (!tidied && log_) log_(fmt::format("{} (kept as it is for now)", tidied.error().message));
  return {};
}

void NatsSpool::push(Entry e) {
  live_bytes_ += record_size(e.id, e.json);
  live_.push_back({next_seq_++, std::make_shared<const Entry>(std::move(e))});
}

NatsSpool::Appended NatsSpool::append(std::vector<Entry> entries) {
  Appended out;
  std::string bytes;
  for (Entry& e : entries) {
    const std::uint64_t size = record_size(e.id, e.json);
    if (size > max_size_) {
      ++out.dropped;
      continue;
    }
    std::uint64_t evicted = 0;
    while (live_bytes_ + size > max_size_) {
      live_bytes_ -= record_size(live_.front().rec->id, live_.front().rec->json);
      live_.pop_front();
      ++evicted;
    }
    // In file order: the drop counts the oldest records before this one,
    // which may include alerts of this same batch.
    if (evicted > 0) bytes += fmt::format("d {}\n", evicted);
    out.dropped += evicted;
    bytes += message_record(e.id, e.json);
    push(std::move(e));
  }
  if (bytes.empty()) return out;
  if (needs_rewrite_) {
    out.written = rewrite();
    return out;
  }
  out.written = write_record(bytes, true);
  return out;
}

std::optional<NatsSpool::Message> NatsSpool::front() const {
  if (live_.empty()) return std::nullopt;
  return Message{live_.front().seq, live_.front().rec->id, live_.front().rec->json};
}

Result<void> NatsSpool::ack(std::uint64_t seq) {
  if (live_.empty() || live_.front().seq != seq) return {};
  return pop(1, 'a');
}

Result<void> NatsSpool::pop(std::size_t n, char kind) {
  for (std::size_t i = 0; i < n; ++i) {
    live_bytes_ -= record_size(live_.front().rec->id, live_.front().rec->json);
    live_.pop_front();
  }
  // The failure that left the file behind was reported when it happened.
  if (needs_rewrite_) return rewrite_throttled() ? Result<void>{} : rewrite();
  if (live_.empty()) return tidy();
  if (auto w = write_record(fmt::format("{} {}\n", kind, n), false); !w) return w;
  return tidy();
}

Result<void> NatsSpool::write_record(const std::string& bytes, bool sync) {
  int err = write_all(fd_.get(), bytes);
  if (err == 0 && sync && osl::io::fdatasync(fd_.get()) != 0) err = errno;
  if (err == 0) {
    file_size_ += bytes.size();
    return {};
  }
  // Whatever part of the records reached the file is cut off again; if even
  // that fails, the next write rewrites the file from memory.
  needs_rewrite_ = true;
  if (osl::io::ftruncate(fd_.get(), static_cast<off_t>(file_size_)) == 0 && !sync) needs_rewrite_ = false;
  return fail_errno(err, "write " + path_.string());
}

Result<void> NatsSpool::tidy() {
  if (live_.empty() && file_size_ > 0) {
    // Nothing left to lose: truncating in place is crash-safe.
    if (osl::io::ftruncate(fd_.get(), 0) != 0) {
      needs_rewrite_ = true;
      return fail_errno(errno, "truncate " + path_.string());
    }
    file_size_ = 0;
    ++generation_;
    return {};
  }
  if (!defer_compaction_ && compaction_due()) {
    const Compaction c = begin_compaction();
    auto tmp = write_compaction(c);
    if (!tmp) {
      compaction_failed();
      return std::unexpected(tmp.error());
    }
    return finish_compaction(c, std::move(*tmp));
  }
  return {};
}

bool NatsSpool::compaction_due() const noexcept {
  // A compaction that failed (a full disk, most likely) is tried again at
  // most every few seconds, not on every ack: each try writes up to
  // max_size before it fails, and that space is what the appends lack.
  if (compaction_failed_ &&
      std::chrono::steady_clock::now() - last_compaction_failure_ < kCompactionRetry) {
    return false;
  }
  return !needs_rewrite_ && !live_.empty() && file_size_ > live_bytes_ + max_size_;
}

void NatsSpool::compaction_failed() noexcept {
  compaction_failed_ = true;
  last_compaction_failure_ = std::chrono::steady_clock::now();
}

NatsSpool::Compaction NatsSpool::begin_compaction() const {
  Compaction c;
  c.generation = generation_;
  c.count = live_.size();
  c.first_seq = live_.empty() ? next_seq_ : live_.front().seq;
  c.size = live_bytes_;
  c.records.reserve(live_.size());
  for (const Held& h : live_) c.records.push_back(h.rec);
  return c;
}

Result<osl::UniqueFd> NatsSpool::write_compaction(const Compaction& c) const {
  const std::string tmp_path = (dir_ / compact_).string();
  osl::UniqueFd tmp(::openat(dir_fd_.get(), compact_.c_str(), O_RDWR | O_APPEND | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!tmp) return fail_errno(errno, "create " + tmp_path);
  // A failed copy is removed at once: left behind, it would hold the space
  // a full disk lacks until the next compaction replaced it.
  const auto failed = [&](int err, std::string_view what) {
    (void)osl::io::unlinkat(dir_fd_.get(), compact_.c_str());
    return fail_errno(err, fmt::format("{} {}", what, tmp_path));
  };
  std::string bytes;
  for (const auto& r : c.records) {
    bytes += message_record(r->id, r->json);
    if (bytes.size() >= (1u << 20) || &r == &c.records.back()) {
      if (const int err = write_all(tmp.get(), bytes); err != 0) return failed(err, "write");
      bytes.clear();
    }
  }
  if (osl::io::fdatasync(tmp.get()) != 0) return failed(errno, "sync");
  return tmp;
}

Result<void> NatsSpool::finish_compaction(const Compaction& c, osl::UniqueFd tmp) {
  const std::string tmp_path = (dir_ / compact_).string();
  if (c.generation != generation_ || needs_rewrite_) {
    (void)osl::io::unlinkat(dir_fd_.get(), compact_.c_str());  // replaced meanwhile: the copy is stale
    return {};
  }
  // The live alerts form one run of sequence numbers; those of the copy no
  // longer live were dropped (or acked) from the front meanwhile.
  const std::uint64_t front = live_.empty() ? next_seq_ : live_.front().seq;
  const std::uint64_t gone = front > c.first_seq ? std::min(c.count, front - c.first_seq) : 0;
  std::string tail;
  if (gone > 0) tail += fmt::format("d {}\n", gone);
  for (const Held& h : live_) {
    if (h.seq >= c.first_seq + c.count) tail += message_record(h.rec->id, h.rec->json);
  }
  const auto failed = [&](int err, std::string_view what) {
    (void)osl::io::unlinkat(dir_fd_.get(), compact_.c_str());  // see write_compaction()
    compaction_failed();
    return fail_errno(err, fmt::format("{} {}", what, tmp_path));
  };
  if (!tail.empty()) {
    if (const int err = write_all(tmp.get(), tail); err != 0) return failed(err, "write");
    if (osl::io::fdatasync(tmp.get()) != 0) return failed(errno, "sync");
  }
  if (osl::io::renameat(dir_fd_.get(), compact_.c_str(), dir_fd_.get(), file_.c_str()) != 0) {
    return failed(errno, "rename");
  }
  compaction_failed_ = false;
  fd_ = std::move(tmp);
  file_size_ = c.size + tail.size();
  ++generation_;
  if (osl::io::fsync(dir_fd_.get()) != 0) {
    needs_rewrite_ = true;  // see rewrite()
    return fail_errno(errno, "sync " + dir_.string());
  }
  return {};
}

bool NatsSpool::rewrite_throttled() const {
  return needs_rewrite_ && std::chrono::steady_clock::now() - last_rewrite_attempt_ < std::chrono::seconds(5);
}

Result<void> NatsSpool::rewrite() {
  // A rewrite that failed is tried again at most every few seconds, not on
  // every ack while the disk is full.
  if (rewrite_throttled()) {
    return fail(ErrorCategory::io, path_.string() + ": kept in memory only; the spool file has not been rewritten since "
                                                    "the last write failure");
  }
  last_rewrite_attempt_ = std::chrono::steady_clock::now();
  needs_rewrite_ = true;
  const std::string tmp_path = (dir_ / tmp_).string();
  osl::UniqueFd tmp(::openat(dir_fd_.get(), tmp_.c_str(), O_RDWR | O_APPEND | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!tmp) return fail_errno(errno, "create " + tmp_path);
  std::string bytes;
  std::uint64_t written = 0;
  for (const Held& h : live_) {
    bytes += message_record(h.rec->id, h.rec->json);
    if (bytes.size() >= (1u << 20) || &h == &live_.back()) {
      if (const int err = write_all(tmp.get(), bytes); err != 0) return fail_errno(err, "write " + tmp_path);
      written += bytes.size();
      bytes.clear();
    }
  }
  if (osl::io::fdatasync(tmp.get()) != 0) return fail_errno(errno, "sync " + tmp_path);
  if (osl::io::renameat(dir_fd_.get(), tmp_.c_str(), dir_fd_.get(), file_.c_str()) != 0) {
    return fail_errno(errno, "rename " + tmp_path);
  }
  fd_ = std::move(tmp);
  file_size_ = written;
  ++generation_;
  // The rename is durable only once the directory is. If that fails, a
  // crash could bring back the old file, or lose the name altogether; so
  // the file still counts as not matching memory and is rewritten again at
  // the next write (throttled), and the caller hears of it.
  if (osl::io::fsync(dir_fd_.get()) != 0) return fail_errno(errno, "sync " + dir_.string());
  needs_rewrite_ = false;
  return {};
}

}  // namespace airssys::daemoneye::detail
