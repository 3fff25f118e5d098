#include "sqlite_vfs.hpp"

#include "sqlite_vfs_forward.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <airssys/osl/file_io.hpp>
#include <airssys/osl/unique_fd.hpp>
#include <cerrno>
#include <cstddef>
#include <mutex>
#include <new>
#include <string>

namespace airssys::daemoneye::sqlite {

namespace {

namespace io = airssys::osl::io;

// The head of os_unix.c's unixFile (see the header).
struct UnixFileHead {
  const sqlite3_io_methods* methods;
  sqlite3_vfs* vfs;
  void* inode;
  int h;
};

sqlite3_vfs* g_unix = nullptr;  // set once, before registration

// Our sqlite3_file; the "unix" file lives right after it (kRealOffset).
struct SeamFile {
  sqlite3_file base;
  sqlite3_file* real;
  int fd;  // -1: not a file whose writes decide durability; all delegated
  bool dirsync_pending;
  sqlite3_int64 chunk;  // SQLITE_FCNTL_CHUNK_SIZE, as "unix" rounds truncation
  std::string path;
};

constexpr std::size_t kRealOffset = (sizeof(SeamFile) + alignof(std::max_align_t) - 1) /
                                    alignof(std::max_align_t) * alignof(std::max_align_t);

SeamFile* seam(sqlite3_file* f) { return reinterpret_cast<SeamFile*>(f); }
sqlite3_file* real(sqlite3_file* f) { return seam(f)->real; }

// fsync of the directory holding `path`. False only when the directory
// opened and its fsync failed: a directory that cannot be opened is not an
// error, as in "unix". xSync ignores the result (as unixSync does); xDelete
// reports it (as unixDelete does, SQLITE_IOERR_DIR_FSYNC).
bool sync_dir(const std::string& path) {
  const auto slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  const osl::UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  return !fd || io::fsync(fd.get()) == 0;
}

int x_close(sqlite3_file* f) {
  SeamFile* s = seam(f);
  sqlite3_file* r = s->real;
  const int rc = r->pMethods != nullptr ? r->pMethods->xClose(r) : SQLITE_OK;
  s->~SeamFile();
  return rc;
}

using Forward = detail::ForwardFile<real>;

int x_write(sqlite3_file* f, const void* buf, int amt, sqlite3_int64 off) {
  SeamFile* s = seam(f);
  if (s->fd < 0) return s->real->pMethods->xWrite(s->real, buf, amt, off);
  const auto* p = static_cast<const char*>(buf);
  auto left = static_cast<std::size_t>(amt);
  while (left > 0) {
    const ssize_t w = io::pwrite(s->fd, p, left, static_cast<off_t>(off));
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno == ENOSPC || errno == EDQUOT ? SQLITE_FULL : SQLITE_IOERR_WRITE;
    }
    if (w == 0) return SQLITE_FULL;
    p += w;
    left -= static_cast<std::size_t>(w);
    off += w;
  }
  return SQLITE_OK;
}

int x_truncate(sqlite3_file* f, sqlite3_int64 size) {
  SeamFile* s = seam(f);
  if (s->fd < 0) return s->real->pMethods->xTruncate(s->real, size);
  if (s->chunk > 0) size = (size + s->chunk - 1) / s->chunk * s->chunk;
  if (io::ftruncate(s->fd, static_cast<off_t>(size)) != 0) return SQLITE_IOERR_TRUNCATE;
  return s->real->pMethods->xTruncate(s->real, size);
}

int x_sync(sqlite3_file* f, int flags) {
  SeamFile* s = seam(f);
  if (s->fd < 0) return s->real->pMethods->xSync(s->real, flags);
  if (io::fdatasync(s->fd) != 0) return SQLITE_IOERR_FSYNC;
  if (s->dirsync_pending) {
    (void)sync_dir(s->path);  // best effort, as unixSync
    s->dirsync_pending = false;
  }
  return SQLITE_OK;
}

int x_file_control(sqlite3_file* f, int op, void* arg) {
  if (op == SQLITE_FCNTL_CHUNK_SIZE) seam(f)->chunk = *static_cast<int*>(arg);
  return real(f)->pMethods->xFileControl(real(f), op, arg);
}

const sqlite3_io_methods kMethods = Forward::table(x_close, x_write, x_truncate, x_sync, x_file_control);

// The files a lost write would lose a commit from.
constexpr int kDurableKinds =
    SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_MAIN_JOURNAL | SQLITE_OPEN_WAL | SQLITE_OPEN_SUPER_JOURNAL;

// The descriptor "unix" holds for `r`, if it is the file named `name`.
int unix_fd(sqlite3_file* r, const char* name) {
  const auto* head = reinterpret_cast<const UnixFileHead*>(r);
  if (head->vfs != g_unix || head->h < 0) return -1;
  struct stat by_fd {}, by_name {};
  if (::fstat(head->h, &by_fd) != 0 || ::stat(name, &by_name) != 0) return -1;
  if (by_fd.st_dev != by_name.st_dev || by_fd.st_ino != by_name.st_ino) return -1;
  return head->h;
}

int x_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* f, int flags, int* out_flags) {
  auto* s = new (f) SeamFile{};
  s->base.pMethods = nullptr;
  s->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(f) + kRealOffset);
  s->fd = -1;
  const int rc = g_unix->xOpen(g_unix, name, s->real, flags, out_flags);
  if (s->real->pMethods == nullptr) {
    s->~SeamFile();
    return rc;
  }
  s->base.pMethods = &kMethods;  // xClose runs even if the open failed
  if (rc != SQLITE_OK) return rc;
  if (name != nullptr && (flags & kDurableKinds) != 0) {
    s->fd = unix_fd(s->real, name);
    if (s->fd < 0) return SQLITE_CANTOPEN;  // SQLite calls xClose
    s->path = name;
    const int kind = flags & kDurableKinds;
    s->dirsync_pending = (flags & SQLITE_OPEN_CREATE) != 0 && kind != SQLITE_OPEN_MAIN_DB;
  }
  return SQLITE_OK;
}

int x_delete(sqlite3_vfs*, const char* name, int sync_dir_after) {
  if (io::unlinkat(AT_FDCWD, name, 0) != 0) {
    return errno == ENOENT ? SQLITE_IOERR_DELETE_NOENT : SQLITE_IOERR_DELETE;
  }
  if (sync_dir_after != 0 && !sync_dir(name)) return SQLITE_IOERR_DIR_FSYNC;
  return SQLITE_OK;
}

sqlite3_vfs* unix_of(sqlite3_vfs*) { return g_unix; }

sqlite3_vfs g_vfs{};

}  // namespace

Result<void> register_vfs() {
  static std::once_flag once;
  static int rc = SQLITE_OK;
  static std::string problem;  // empty: registered
  std::call_once(once, [] {
    g_unix = ::sqlite3_vfs_find("unix");
    if (g_unix == nullptr || g_unix->iVersion < 2) {
      problem = "SQLite has no \"unix\" VFS to build on";
      return;
    }
    detail::ForwardVfs<unix_of>::fill(g_vfs, *g_unix, x_open, x_delete);
    g_vfs.szOsFile = static_cast<int>(kRealOffset) + g_unix->szOsFile;
    g_vfs.zName = kFaultSeamVfs;
    rc = ::sqlite3_vfs_register(&g_vfs, /*makeDflt=*/0);
    if (rc != SQLITE_OK) problem = std::string("cannot register the SQLite VFS: ") + ::sqlite3_errstr(rc);
  });
  if (!problem.empty()) return fail(ErrorCategory::internal, problem);
  return {};
}

}  // namespace airssys::daemoneye::sqlite
