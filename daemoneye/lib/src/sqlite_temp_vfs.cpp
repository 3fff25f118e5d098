#include "sqlite_temp_vfs.hpp"

#include "sqlite_vfs_forward.hpp"

#include <fmt/format.h>

#include <sys/random.h>

#include <atomic>
#include <cstddef>
#include <new>
#include <string>

namespace airssys::daemoneye::sqlite {

namespace {

// The files a statement makes for itself; the database, its WAL and
// shared memory are not counted.
constexpr int kTempKinds =
    SQLITE_OPEN_TEMP_DB | SQLITE_OPEN_TEMP_JOURNAL | SQLITE_OPEN_TRANSIENT_DB | SQLITE_OPEN_SUBJOURNAL;

// Our sqlite3_file; the "unix" file lives right after it (kRealOffset).
struct CapFile {
  sqlite3_file base;
  sqlite3_file* real;
  TempBytesVfs* owner;  // null: not a temporary file, all delegated
  sqlite3_int64 size;   // bytes counted for this file
  // The name made in temp_dir() for a temporary file, NUL-NUL terminated
  // (what sqlite3_uri_parameter expects of a name); "unix" keeps a pointer.
  std::string temp_name;
};

constexpr std::size_t kRealOffset = (sizeof(CapFile) + alignof(std::max_align_t) - 1) /
                                    alignof(std::max_align_t) * alignof(std::max_align_t);

CapFile* cap(sqlite3_file* f) { return reinterpret_cast<CapFile*>(f); }
sqlite3_file* real(sqlite3_file* f) { return cap(f)->real; }
TempBytesVfs* owner_of(sqlite3_vfs* v) { return static_cast<TempBytesVfs*>(v->pAppData); }
sqlite3_vfs* unix_vfs(sqlite3_vfs* v) { return owner_of(v)->base(); }

int x_close(sqlite3_file* f) {
  CapFile* c = cap(f);
  sqlite3_file* r = c->real;
  const int rc = r->pMethods != nullptr ? r->pMethods->xClose(r) : SQLITE_OK;
  if (c->owner != nullptr) c->owner->give_back(c->size);
  c->~CapFile();
  return rc;
}

using Forward = detail::ForwardFile<real>;

int x_write(sqlite3_file* f, const void* buf, int amt, sqlite3_int64 off) {
  CapFile* c = cap(f);
  const sqlite3_int64 end = off + amt;
  const sqlite3_int64 grow = c->owner != nullptr && end > c->size ? end - c->size : 0;
  if (grow > 0 && !c->owner->take(grow)) return SQLITE_FULL;
  const int rc = c->real->pMethods->xWrite(c->real, buf, amt, off);
  if (grow > 0) {
    if (rc == SQLITE_OK) c->size = end;
    else c->owner->give_back(grow);
  }
  return rc;
}

int x_truncate(sqlite3_file* f, sqlite3_int64 size) {
  CapFile* c = cap(f);
  const int rc = c->real->pMethods->xTruncate(c->real, size);
  if (rc == SQLITE_OK && c->owner != nullptr && size < c->size) {
    c->owner->give_back(c->size - size);
    c->size = size;
  }
  return rc;
}

// "unix"'s files all have version-3 methods (as sqlite_vfs.cpp assumes too).
const sqlite3_io_methods kMethods = Forward::table(x_close, x_write, x_truncate);

// "<dir>/daemoneye-temp-<32 random hex digits>", or false (no randomness,
// or longer than "unix" takes).
bool make_temp_name(const std::string& dir, int max_path, std::string& out) {
  unsigned char raw[16];
  if (::getrandom(raw, sizeof raw, 0) != static_cast<ssize_t>(sizeof raw)) return false;
  out = dir;
  out += "/daemoneye-temp-";
  for (unsigned char b : raw) out += fmt::format("{:02x}", b);
  if (out.size() >= static_cast<std::size_t>(max_path)) return false;
  out += '\0';  // with c_str()'s own: NUL-NUL terminated
  return true;
}

int x_open(sqlite3_vfs* v, sqlite3_filename name, sqlite3_file* f, int flags, int* out_flags) {
  auto* c = new (f) CapFile{};
  c->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(f) + kRealOffset);
  sqlite3_vfs* u = unix_vfs(v);
  // A null name asks for a temporary file (always DELETEONCLOSE), which
  // "unix" would put in the first writable of SQLITE_TMPDIR, TMPDIR,
  // /var/tmp, /usr/tmp, /tmp, "." -- none of them under the agent's unit.
  // With a temp_dir the name is made here; EXCLUSIVE has "unix" create it
  // O_CREAT|O_EXCL|O_NOFOLLOW, 0600 (DELETEONCLOSE), and unlink it at once.
  if (name == nullptr && !owner_of(v)->temp_dir().empty()) {
    if (!make_temp_name(owner_of(v)->temp_dir(), u->mxPathname, c->temp_name)) {
      c->~CapFile();
      return SQLITE_CANTOPEN;
    }
    name = c->temp_name.c_str();
    flags |= SQLITE_OPEN_CREATE | SQLITE_OPEN_EXCLUSIVE | SQLITE_OPEN_DELETEONCLOSE;
  }
  const int rc = u->xOpen(u, name, c->real, flags, out_flags);
  if (c->real->pMethods == nullptr) {
    c->~CapFile();
    return rc;
  }
  c->base.pMethods = &kMethods;  // xClose runs even if the open failed
  if (rc == SQLITE_OK && (flags & kTempKinds) != 0) c->owner = owner_of(v);
  return rc;
}

std::atomic<std::uint64_t> g_next_id{0};

}  // namespace

TempBytesVfs::TempBytesVfs(std::int64_t max_bytes, std::string temp_dir)
    : temp_dir_(std::move(temp_dir)), max_bytes_(max_bytes) {}

bool TempBytesVfs::take(std::int64_t grow) noexcept {
  if (grow > max_bytes_ - used_) {
    exceeded_ = true;
    return false;
  }
  used_ += grow;
  return true;
}

Result<std::unique_ptr<TempBytesVfs>> TempBytesVfs::make(std::int64_t max_bytes, std::string temp_dir) {
  sqlite3_vfs* u = ::sqlite3_vfs_find("unix");
  if (u == nullptr) return fail(ErrorCategory::internal, "SQLite has no \"unix\" VFS");
  std::unique_ptr<TempBytesVfs> self(new TempBytesVfs(max_bytes, std::move(temp_dir)));
  self->unix_ = u;
  self->name_ = fmt::format("airssys-query-temp-{}", g_next_id.fetch_add(1));
  sqlite3_vfs& v = self->vfs_;
  detail::ForwardVfs<unix_vfs>::fill(v, *u, x_open);
  v.szOsFile = static_cast<int>(kRealOffset) + u->szOsFile;
  v.zName = self->name_.c_str();
  v.pAppData = self.get();
  if (const int rc = ::sqlite3_vfs_register(&v, 0); rc != SQLITE_OK) {
    return fail(ErrorCategory::internal, fmt::format("cannot register a SQLite VFS: {}", ::sqlite3_errstr(rc)));
  }
  return self;
}

TempBytesVfs::~TempBytesVfs() { ::sqlite3_vfs_unregister(&vfs_); }

}  // namespace airssys::daemoneye::sqlite
