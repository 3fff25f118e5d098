#pragma once
// The sqlite3_io_methods and sqlite3_vfs methods a shim VFS over "unix"
// passes on unchanged, for the shims that wrap each "unix" file
// (sqlite_vfs.hpp: the fault seam, sqlite_temp_vfs.hpp: the
// temporary-files cap). `Real` maps the shim's sqlite3_file to the "unix"
// one it wraps, `Base` the shim's sqlite3_vfs to "unix"; a shim writes its
// own xOpen, xClose, xWrite, xTruncate (and whatever else it changes) and
// takes the rest from here.

#include <sqlite3.h>

namespace airssys::daemoneye::sqlite::detail {

template <sqlite3_file* (*Real)(sqlite3_file*)>
struct ForwardFile {
  static int read(sqlite3_file* f, void* buf, int amt, sqlite3_int64 off) {
    return Real(f)->pMethods->xRead(Real(f), buf, amt, off);
  }
  static int sync(sqlite3_file* f, int flags) { return Real(f)->pMethods->xSync(Real(f), flags); }
  static int file_size(sqlite3_file* f, sqlite3_int64* size) { return Real(f)->pMethods->xFileSize(Real(f), size); }
  static int lock(sqlite3_file* f, int level) { return Real(f)->pMethods->xLock(Real(f), level); }
  static int unlock(sqlite3_file* f, int level) { return Real(f)->pMethods->xUnlock(Real(f), level); }
  static int check_reserved(sqlite3_file* f, int* out) { return Real(f)->pMethods->xCheckReservedLock(Real(f), out); }
  static int file_control(sqlite3_file* f, int op, void* arg) {
    return Real(f)->pMethods->xFileControl(Real(f), op, arg);
  }
  static int sector_size(sqlite3_file* f) { return Real(f)->pMethods->xSectorSize(Real(f)); }
  static int device_characteristics(sqlite3_file* f) { return Real(f)->pMethods->xDeviceCharacteristics(Real(f)); }
  static int shm_map(sqlite3_file* f, int page, int size, int extend, void volatile** out) {
    return Real(f)->pMethods->xShmMap(Real(f), page, size, extend, out);
  }
  static int shm_lock(sqlite3_file* f, int offset, int n, int flags) {
    return Real(f)->pMethods->xShmLock(Real(f), offset, n, flags);
  }
  static void shm_barrier(sqlite3_file* f) { Real(f)->pMethods->xShmBarrier(Real(f)); }
  static int shm_unmap(sqlite3_file* f, int delete_flag) { return Real(f)->pMethods->xShmUnmap(Real(f), delete_flag); }
  static int fetch(sqlite3_file* f, sqlite3_int64 off, int amt, void** out) {
    return Real(f)->pMethods->xFetch(Real(f), off, amt, out);
  }
  static int unfetch(sqlite3_file* f, sqlite3_int64 off, void* p) {
    return Real(f)->pMethods->xUnfetch(Real(f), off, p);
  }

  // A version-3 table (as "unix"'s files have) of the shim's own methods
  // and these.
  static constexpr sqlite3_io_methods table(int (*close)(sqlite3_file*),
                                            int (*write)(sqlite3_file*, const void*, int, sqlite3_int64),
                                            int (*truncate)(sqlite3_file*, sqlite3_int64),
                                            int (*sync_)(sqlite3_file*, int) = sync,
                                            int (*file_control_)(sqlite3_file*, int, void*) = file_control) {
    return {3,         close,    read,           write,         truncate,    sync_,          file_size,
            lock,      unlock,   check_reserved, file_control_, sector_size, device_characteristics,
            shm_map,   shm_lock, shm_barrier,    shm_unmap,     fetch,       unfetch};
  }
};

template <sqlite3_vfs* (*Base)(sqlite3_vfs*)>
struct ForwardVfs {
  static int remove(sqlite3_vfs* v, const char* name, int sync_dir) { return Base(v)->xDelete(Base(v), name, sync_dir); }
  static int access(sqlite3_vfs* v, const char* name, int flags, int* out) {
    return Base(v)->xAccess(Base(v), name, flags, out);
  }
  static int full_pathname(sqlite3_vfs* v, const char* name, int n, char* out) {
    return Base(v)->xFullPathname(Base(v), name, n, out);
  }
  static void* dl_open(sqlite3_vfs* v, const char* name) { return Base(v)->xDlOpen(Base(v), name); }
  static void dl_error(sqlite3_vfs* v, int n, char* out) { Base(v)->xDlError(Base(v), n, out); }
  static void (*dl_sym(sqlite3_vfs* v, void* h, const char* sym))(void) { return Base(v)->xDlSym(Base(v), h, sym); }
  static void dl_close(sqlite3_vfs* v, void* h) { Base(v)->xDlClose(Base(v), h); }
  static int randomness(sqlite3_vfs* v, int n, char* out) { return Base(v)->xRandomness(Base(v), n, out); }
  static int sleep(sqlite3_vfs* v, int us) { return Base(v)->xSleep(Base(v), us); }
  static int current_time(sqlite3_vfs* v, double* out) { return Base(v)->xCurrentTime(Base(v), out); }
  static int get_last_error(sqlite3_vfs* v, int n, char* out) { return Base(v)->xGetLastError(Base(v), n, out); }
  static int current_time_int64(sqlite3_vfs* v, sqlite3_int64* out) {
    return Base(v)->xCurrentTimeInt64(Base(v), out);
  }

  // A version-2 VFS (up to xCurrentTimeInt64; no system-call overrides)
  // over `base` with the shim's own xOpen and xDelete and these; the
  // caller sets szOsFile, zName and pAppData.
  static void fill(sqlite3_vfs& v, const sqlite3_vfs& base,
                   int (*open)(sqlite3_vfs*, sqlite3_filename, sqlite3_file*, int, int*),
                   int (*remove_)(sqlite3_vfs*, const char*, int) = remove) {
    v.iVersion = 2;
    v.mxPathname = base.mxPathname;
    v.xOpen = open;
    v.xDelete = remove_;
    v.xAccess = access;
    v.xFullPathname = full_pathname;
    v.xDlOpen = dl_open;
    v.xDlError = dl_error;
    v.xDlSym = dl_sym;
    v.xDlClose = dl_close;
    v.xRandomness = randomness;
    v.xSleep = sleep;
    v.xCurrentTime = current_time;
    v.xGetLastError = get_last_error;
    v.xCurrentTimeInt64 = current_time_int64;
  }
};

}  // namespace airssys::daemoneye::sqlite::detail
