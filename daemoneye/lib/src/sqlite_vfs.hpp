#pragma once
// A SQLite VFS that puts the store's durability calls on osl's fault seam
// (osl/file_io.hpp): the default "unix" VFS does everything (open, read,
// locks, shared memory, delete) except xWrite, xSync and xTruncate of the
// files whose loss would lose a commit — the database, its rollback journal,
// its WAL, a super-journal — which go through osl::io::pwrite, fdatasync and
// ftruncate (and a delete of them through osl::io::unlinkat, so a simulated
// crash forgets the file). A test can then make a chosen write fail with
// ENOSPC or EIO, come back short, fail an fsync, and lose unsynced data on
// osl::io::FaultInjection::crash(). Without a FaultInjection the cost over
// "unix" is one atomic load per call.
//
// The descriptor of the file "unix" opened is read from the head of its
// private unixFile struct (pMethods, pVfs, pInode, h: unchanged since SQLite
// 3.7 in 2010). Each open checks it against the file's identity (fstat of
// the descriptor vs stat of the name): should a future SQLite change the
// layout, every open fails with SQLITE_CANTOPEN instead of writing through a
// wrong descriptor.
//
// What it does as "unix" does: xSync is fdatasync (as "unix" on Linux),
// followed, the first time for a newly created journal or WAL, by an fsync
// of its directory; a short write is continued, and ENOSPC/EDQUOT is
// SQLITE_FULL; xTruncate also lets "unix" truncate (to the same length, a
// no-op) so its memory-map bookkeeping stays right.
//
// Thread safety: register_vfs() may be called from any thread, any number
// of times; the VFS itself is as thread-safe as "unix".

#include <airssys/daemoneye/error.hpp>

namespace airssys::daemoneye::sqlite {

// The name to pass to sqlite3_open_v2 after register_vfs() succeeded.
inline constexpr const char* kFaultSeamVfs = "airssys-osl-io";

// Registers the VFS once per process (not as the default).
[[nodiscard]] Result<void> register_vfs();

}  // namespace airssys::daemoneye::sqlite
