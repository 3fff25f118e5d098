#include "passwd_file.hpp"

#include <airssys/osl/unique_fd.hpp>

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <memory>
#include <vector>

#include <fmt/format.h>

namespace airssys::watchdog {

namespace {

struct FileCloser {
  void operator()(std::FILE* f) const noexcept { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

// O_NONBLOCK: a FIFO planted in place of the file must not hang the open;
// it is refused as not a regular file below.
File open_passwd_file(const std::filesystem::path& path) {
  osl::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY));
  if (!fd) return nullptr;
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return nullptr;
  // Refused whole, not read up to the bound: an entry found early in a file
  // too large to be a passwd file would be an answer from a file that is
  // not one. The check between entries still stops one that grows.
  if (st.st_size > kPasswdFileMaxBytes) return nullptr;
  File f(::fdopen(fd.get(), "r"));
  if (f) (void)fd.release();  // the stream owns it now
  return f;
}

bool names_a_local_user(const char* name) { return name != nullptr && name[0] != '\0' && name[0] != '+' && name[0] != '-'; }

}  // namespace

std::optional<std::string> user_name_in_passwd_file(const std::filesystem::path& file, uid_t uid) {
  File f = open_passwd_file(file);
  if (!f) return std::nullopt;
  std::vector<char> buf(4096);
  for (;;) {
    if (::ftello(f.get()) > kPasswdFileMaxBytes) return std::nullopt;
    passwd pw{};
    passwd* entry = nullptr;
    const int rc = ::fgetpwent_r(f.get(), &pw, buf.data(), buf.size(), &entry);
    if (rc == ERANGE) {
      // glibc puts the stream back at the start of the entry, so a larger
      // buffer reads it again.
      if (buf.size() >= kPasswdLineMaxBytes) return std::nullopt;
      buf.resize(buf.size() * 2);
      continue;
    }
    if (rc != 0 || entry == nullptr) return std::nullopt;  // ENOENT: the end of the file
    if (entry->pw_uid == uid && names_a_local_user(entry->pw_name)) return std::string(entry->pw_name);
  }
}

std::string user_name_or_uid(const std::filesystem::path& passwd_file, uid_t uid) {
  if (auto name = user_name_in_passwd_file(passwd_file, uid)) return std::move(*name);
  return fmt::format("uid-{}", uid);
}

}  // namespace airssys::watchdog
