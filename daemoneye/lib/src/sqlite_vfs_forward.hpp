#pragma once
// The sqlite3_io_methods a shim VFS over "unix" passes on unchanged, for
// the shims that wrap each "unix" file (sqlite_vfs.hpp: the fault seam,
// sqlite_temp_vfs.hpp: the temporary-files cap). `Real` maps the shim's
// sqlite3_file to the "unix" one it wraps; a shim writes its own xClose,
// xWrite, xTruncate (and whatever else it changes) and takes the rest
// from here.

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

}  // namespace airssys::daemoneye::sqlite::detail
