#include "fs/tree_ops.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include <fmt/format.h>

#include <airssys/osl/detail/shown_text.hpp>

namespace airssys::osl::detail {

namespace {

struct DirCloser {
  void operator()(DIR* d) const noexcept { ::closedir(d); }
};
using DirPtr = std::unique_ptr<DIR, DirCloser>;

struct Entry {
  std::string name;
  bool is_dir = false;
};

// Reads a directory's entries (without "." and ".."); takes ownership of `dirfd`.
std::expected<std::pair<DirPtr, std::vector<Entry>>, Error> read_entries(int dirfd, const std::string& path) {
  DirPtr dir(::fdopendir(dirfd));
  if (!dir) {
    const int err = errno;
    ::close(dirfd);
    return std::unexpected(Error::from_errno(err, shown_path(path)));
  }
  const int fd = ::dirfd(dir.get());
  std::vector<Entry> entries;
  errno = 0;
  while (dirent* e = ::readdir(dir.get())) {
    const std::string_view n = e->d_name;
    if (n == "." || n == "..") continue;
    bool is_dir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN) {
      struct stat st {};
      is_dir = ::fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
    }
    entries.push_back(Entry{std::string(n), is_dir});
    errno = 0;
  }
  if (errno != 0) return std::unexpected(Error::from_errno(errno, fmt::format("listing {}", shown_path(path))));
  return std::pair{std::move(dir), std::move(entries)};
}

// O_NOFOLLOW: an entry that was a directory when listed and has since been
// swapped for a symlink fails here (ELOOP/ENOTDIR) instead of being followed.
std::expected<int, Error> open_subdir(int fd, const std::string& name, const std::string& child) {
  const int sub = ::openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (sub < 0) return std::unexpected(Error::from_errno(errno, shown_path(child)));
  return sub;
}

}  // namespace

std::expected<void, Error> remove_contents(int dirfd, const std::string& path, const EntryVeto& veto,
                                           std::vector<KeptEntry>& kept) {
  auto listed = read_entries(dirfd, path);
  if (!listed) return std::unexpected(listed.error());
  const int fd = ::dirfd(listed->first.get());
  for (const auto& [name, is_dir] : listed->second) {
    const std::string child = path + "/" + name;
    if (veto) {
      if (auto why = veto(child)) {
        kept.push_back(KeptEntry{child, std::move(*why)});
        continue;
      }
    }
    if (is_dir) {
      const std::size_t kept_before = kept.size();
      auto sub = open_subdir(fd, name, child);
      if (!sub) return std::unexpected(sub.error());
      if (auto r = remove_contents(*sub, child, veto, kept); !r) return r;
      if (kept.size() != kept_before) continue;  // it still holds what was kept
    }
    if (::unlinkat(fd, name.c_str(), is_dir ? AT_REMOVEDIR : 0) != 0) {
      return std::unexpected(Error::from_errno(errno, fmt::format("removing {}", shown_path(child))));
    }
  }
  return {};
}

namespace {
std::expected<void, Error> collect_vetoed(int dirfd, const std::string& path, const EntryVeto& veto, std::size_t limit,
                                          std::vector<KeptEntry>& out) {
  auto listed = read_entries(dirfd, path);
  if (!listed) return std::unexpected(listed.error());
  const int fd = ::dirfd(listed->first.get());
  for (const auto& [name, is_dir] : listed->second) {
    if (out.size() >= limit) return {};
    const std::string child = path + "/" + name;
    if (auto why = veto(child)) {
      out.push_back(KeptEntry{child, std::move(*why)});
      continue;  // what lies below moves with it; one objection is enough
    }
    if (!is_dir) continue;
    auto sub = open_subdir(fd, name, child);
    if (!sub) return std::unexpected(sub.error());
    if (auto r = collect_vetoed(*sub, child, veto, limit, out); !r) return r;
  }
  return {};
}
}  // namespace

std::expected<std::vector<KeptEntry>, Error> find_vetoed(int dirfd, const std::string& path, const EntryVeto& veto,
                                                          std::size_t limit) {
  std::vector<KeptEntry> out;
  if (auto r = collect_vetoed(dirfd, path, veto, limit, out); !r) return std::unexpected(r.error());
  return out;
}

std::string describe_kept(const std::vector<KeptEntry>& kept) {
  constexpr std::size_t kNamed = 8;
  std::string out;
  for (std::size_t i = 0; i < kept.size() && i < kNamed; ++i) {
    if (i != 0) out += ", ";
    out += fmt::format("{} ({})", shown_path(kept[i].path), kept[i].reason);
  }
  if (kept.size() > kNamed) out += fmt::format(", and {} more", kept.size() - kNamed);
  return out;
}

}  // namespace airssys::osl::detail
