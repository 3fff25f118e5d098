#include <airssys/daemoneye/exe_hasher.hpp>

#include <openssl/evp.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <memory>
#include <vector>

namespace airssys::daemoneye {

namespace {

struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
};

std::string to_hex(const unsigned char* d, unsigned n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s(static_cast<std::size_t>(n) * 2, '0');
  for (unsigned i = 0; i < n; ++i) {
    s[2 * i] = kDigits[d[i] >> 4];
    s[2 * i + 1] = kDigits[d[i] & 0xf];
  }
  return s;
}

bool same_file(const struct ::stat& a, const struct ::stat& b) noexcept {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino && a.st_size == b.st_size && a.st_mtim.tv_sec == b.st_mtim.tv_sec &&
         a.st_mtim.tv_nsec == b.st_mtim.tv_nsec && a.st_ctim.tv_sec == b.st_ctim.tv_sec &&
         a.st_ctim.tv_nsec == b.st_ctim.tv_nsec;
}

bool hashable(const struct ::stat& st, std::uint64_t max_size) noexcept {
  return S_ISREG(st.st_mode) && st.st_size >= 0 && static_cast<std::uint64_t>(st.st_size) <= max_size;
}

std::string sha256_fd_counted(int fd, std::atomic<std::uint64_t>* progress) {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) return {};
  std::vector<unsigned char> buf(256 * 1024);
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return {};
    }
    if (n == 0) break;
    if (EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<std::size_t>(n)) != 1) return {};
    if (progress) progress->fetch_add(1, std::memory_order_relaxed);
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), md.data(), &len) != 1) return {};
  return to_hex(md.data(), len);
}

}  // namespace

bool is_remote_fs(std::int64_t f_type) noexcept {
  // <linux/magic.h> and the file systems' own headers (not all are there).
  switch (static_cast<std::uint32_t>(f_type)) {
    case 0x6969u:      // NFS_SUPER_MAGIC
    case 0x517Bu:      // SMB_SUPER_MAGIC
    case 0xFF534D42u:  // CIFS_SUPER_MAGIC
    case 0xFE534D42u:  // SMB2_SUPER_MAGIC
    case 0x00C36400u:  // CEPH_SUPER_MAGIC
    case 0x01021997u:  // V9FS_MAGIC (9P)
    case 0x5346414Fu:  // AFS_SUPER_MAGIC
    case 0x6B414653u:  // AFS_FS_MAGIC (kAFS)
    case 0x73757245u:  // CODA_SUPER_MAGIC
    case 0x564Cu:      // NCP_SUPER_MAGIC
    case 0x01161970u:  // GFS2_MAGIC (cluster)
    case 0x7461636Fu:  // OCFS2_SUPER_MAGIC (cluster)
    case 0x65735546u:  // FUSE_SUPER_MAGIC (sshfs, s3fs, … : a user-space daemon answers reads)
    case 0x65735543u:  // FUSE_CTL_SUPER_MAGIC
      return true;
    default:
      return false;
  }
}

std::string sha256_fd(int fd) { return sha256_fd_counted(fd, nullptr); }

std::size_t ExeHasher::KeyHash::operator()(const Key& k) const noexcept {
  std::uint64_t h = k.ino * 0x9e3779b97f4a7c15ull;
  h ^= k.dev + 0x632be59bd9b4e019ull + (h << 6) + (h >> 2);
  h ^= k.size + (h << 6) + (h >> 2);
  h ^= static_cast<std::uint64_t>(k.mtime_sec) * 31 + static_cast<std::uint64_t>(k.mtime_nsec);
  h ^= (static_cast<std::uint64_t>(k.ctime_sec) * 37 + static_cast<std::uint64_t>(k.ctime_nsec)) + (h << 6) + (h >> 2);
  return static_cast<std::size_t>(h);
}

ExeHasher::ExeHasher(ExeHasherOptions options) : options_(options) {
  if (options_.max_entries == 0) options_.max_entries = 1;
}

void ExeHasher::begin_collection() noexcept {
  used_bytes_ = 0;
  read_any_ = false;
  began_ = std::chrono::steady_clock::now();
}

ExeHasher::Key ExeHasher::key_of(const struct ::stat& st) noexcept {
  return Key{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino),
             static_cast<std::uint64_t>(st.st_size), static_cast<std::int64_t>(st.st_mtim.tv_sec),
             static_cast<std::int64_t>(st.st_mtim.tv_nsec), static_cast<std::int64_t>(st.st_ctim.tv_sec),
             static_cast<std::int64_t>(st.st_ctim.tv_nsec)};
}

const std::string* ExeHasher::lookup(const Key& k) {
  auto it = index_.find(k);
  if (it == index_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  return &it->second->hex;
}

void ExeHasher::remember(const Key& k, std::string hex) {
  if (auto it = index_.find(k); it != index_.end()) {
    it->second->hex = std::move(hex);
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  while (index_.size() >= options_.max_entries) {
    index_.erase(lru_.back().key);
    lru_.pop_back();
    ++stats_.evictions;
  }
  lru_.push_front(Entry{k, std::move(hex)});
  index_.emplace(k, lru_.begin());
}

ImageRead read_image(int fd, const ExeHasherOptions& options, std::atomic<std::uint64_t>* progress) {
  ImageRead out;
  if (::fstat(fd, &out.before) != 0) return out;
  out.have_before = true;
  if (!hashable(out.before, options.max_size)) return out;
  if (options.skip_remote) {
    struct ::statfs fs{};
    if (::fstatfs(fd, &fs) != 0 || is_remote_fs(static_cast<std::int64_t>(fs.f_type))) {
      out.outcome = ImageRead::Outcome::remote;
      return out;
    }
  }
  if (::lseek(fd, 0, SEEK_SET) != 0) return out;
  std::string hex = sha256_fd_counted(fd, progress);
  struct ::stat after{};
  if (hex.empty() || ::fstat(fd, &after) != 0) return out;
  // Changed while we read it: the hash may mix two versions.
  out.outcome = same_file(out.before, after) ? ImageRead::Outcome::hashed : ImageRead::Outcome::changed;
  out.hex = std::move(hex);
  return out;
}

std::optional<std::string> ExeHasher::cached(const struct ::stat& st) {
  if (!hashable(st, options_.max_size)) {
    ++stats_.skipped;
    return std::string();
  }
  if (const std::string* hex = lookup(key_of(st))) {
    ++stats_.hits;
    return *hex;
  }
  return std::nullopt;
}

bool ExeHasher::may_read(std::uint64_t size) noexcept {
  // The first file read in a collection always is: every collection makes progress.
  const bool over_bytes = options_.budget_bytes > 0 && used_bytes_ + size > options_.budget_bytes;
  const bool over_time = options_.budget_time.count() > 0 &&
                         std::chrono::steady_clock::now() - began_ >= options_.budget_time;
  if (read_any_ && (over_bytes || over_time)) {
    ++stats_.deferred;
    return false;
  }
  used_bytes_ += size;
  read_any_ = true;
  return true;
}

std::string ExeHasher::record(const ImageRead& read) {
  switch (read.outcome) {
    case ImageRead::Outcome::hashed:
      ++stats_.misses;
      remember(key_of(read.before), read.hex);
      return read.hex;
    case ImageRead::Outcome::changed:
      ++stats_.misses;
      return {};
    case ImageRead::Outcome::remote:
      ++stats_.remote;
      // Remembered as "": later collections answer from the cache without
      // opening the file again (an open can wait on the server too).
      remember(key_of(read.before), {});
      return {};
    case ImageRead::Outcome::skipped:
      break;
  }
  ++stats_.skipped;
  return {};
}

std::string ExeHasher::hash_fd(int fd) {
  struct ::stat st{};
  if (::fstat(fd, &st) != 0) {
    ++stats_.skipped;
    return {};
  }
  if (auto hit = cached(st)) return std::move(*hit);
  if (options_.skip_remote) {
    // Checked before the budget: a remote file costs no budget.
    struct ::statfs fs{};
    if (::fstatfs(fd, &fs) != 0 || is_remote_fs(static_cast<std::int64_t>(fs.f_type))) {
      return record(ImageRead{.outcome = ImageRead::Outcome::remote, .before = st, .have_before = true, .hex = {}});
    }
  }
  if (!may_read(static_cast<std::uint64_t>(st.st_size))) return {};
  return record(read_image(fd, options_));
}

std::string ExeHasher::hash(osl::proc::Reader& reader, const osl::proc::Process& p, const struct ::stat* known) {
  if (known) {
    if (auto hit = cached(*known)) return std::move(*hit);
  }
  auto fd = reader.open_exe(p);
  if (!fd) {
    ++stats_.skipped;
    return {};
  }
  return hash_fd(fd->get());
}

}  // namespace airssys::daemoneye
