#include <airssys/daemoneye/exe_hasher.hpp>

#include <openssl/evp.h>
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
         a.st_mtim.tv_nsec == b.st_mtim.tv_nsec;
}

}  // namespace

std::string sha256_fd(int fd) {
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
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), md.data(), &len) != 1) return {};
  return to_hex(md.data(), len);
}

std::size_t ExeHasher::KeyHash::operator()(const Key& k) const noexcept {
  std::uint64_t h = k.ino * 0x9e3779b97f4a7c15ull;
  h ^= k.dev + 0x632be59bd9b4e019ull + (h << 6) + (h >> 2);
  h ^= k.size + (h << 6) + (h >> 2);
  h ^= static_cast<std::uint64_t>(k.mtime_sec) * 31 + static_cast<std::uint64_t>(k.mtime_nsec);
  return static_cast<std::size_t>(h);
}

ExeHasher::ExeHasher(ExeHasherOptions options) : options_(options) {
  if (options_.max_entries == 0) options_.max_entries = 1;
}

ExeHasher::Key ExeHasher::key_of(const struct ::stat& st) noexcept {
  return Key{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino),
             static_cast<std::uint64_t>(st.st_size), static_cast<std::int64_t>(st.st_mtim.tv_sec),
             static_cast<std::int64_t>(st.st_mtim.tv_nsec)};
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

std::string ExeHasher::hash_fd(int fd) {
  struct ::stat before{};
  if (::fstat(fd, &before) != 0 || !S_ISREG(before.st_mode) || before.st_size < 0 ||
      static_cast<std::uint64_t>(before.st_size) > options_.max_size) {
    ++stats_.skipped;
    return {};
  }
  const Key key = key_of(before);
  if (const std::string* hex = lookup(key)) {
    ++stats_.hits;
    return *hex;
  }
  if (::lseek(fd, 0, SEEK_SET) != 0) {
    ++stats_.skipped;
    return {};
  }
  std::string hex = sha256_fd(fd);
  struct ::stat after{};
  if (hex.empty() || ::fstat(fd, &after) != 0) {
    ++stats_.skipped;
    return {};
  }
  ++stats_.misses;
  // Changed while we read it: the hash may mix two versions. Report nothing.
  if (!same_file(before, after)) return {};
  remember(key, hex);
  return hex;
}

std::string ExeHasher::hash(osl::proc::Reader& reader, const osl::proc::Process& p, const struct ::stat* known) {
  if (known) {
    if (!S_ISREG(known->st_mode) || known->st_size < 0 ||
        static_cast<std::uint64_t>(known->st_size) > options_.max_size) {
      ++stats_.skipped;
      return {};
    }
    if (const std::string* hex = lookup(key_of(*known))) {
      ++stats_.hits;
      return *hex;
    }
  }
  auto fd = reader.open_exe(p);
  if (!fd) {
    ++stats_.skipped;
    return {};
  }
  return hash_fd(fd->get());
}

}  // namespace airssys::daemoneye
