/* The record procmond's eBPF programs put on the ring buffer, shared by the
 * BPF side (procmon.bpf.c) and the C++ reader (ebpf_source.cpp). Plain C,
 * fixed-width fields, no padding surprises: both sides must agree byte for
 * byte. */
#ifndef AIRSSYS_DAEMONEYE_PROCMON_EVENT_H
#define AIRSSYS_DAEMONEYE_PROCMON_EVENT_H

#define PROCMON_PATH_MAX 4096  /* bytes of the executable path, NUL included */
#define PROCMON_ARGS_MAX 16384 /* bytes of argv (NUL-separated) captured at exec */
/* A longer argv is captured as its first PROCMON_ARGS_HEAD bytes followed by
 * its last PROCMON_ARGS_MAX - 1 - PROCMON_ARGS_HEAD bytes (args_tail_size),
 * so that padding cannot push the end of a command line out of sight. */
#define PROCMON_ARGS_HEAD 8192

enum procmon_kind {
  PROCMON_EXEC = 1, /* a process replaced its image (execve returned) */
  PROCMON_FORK = 2, /* a new process (not a thread) was created */
  PROCMON_EXIT = 3, /* the last thread of a process exited */
};

enum procmon_flags {
  PROCMON_ARGS_TRUNCATED = 1, /* argv was longer than what was copied */
  PROCMON_PATH_TRUNCATED = 2, /* the path did not fit */
  PROCMON_ARGS_UNREADABLE = 4, /* argv could not be read from the new image's memory */
  /* EXEC: exe below is not the whole path (deeper than the walk goes, or
   * longer than PROCMON_PATH_MAX): the reader does not use it. */
  PROCMON_EXE_TRUNCATED = 8,
  /* EXEC: the image's file was unlinked (d_path's " (deleted)"; a memfd's
   * always is). exe holds the path without the suffix. */
  PROCMON_EXE_DELETED = 16,
  /* EXEC: a binfmt handler (binfmt_script "#!", binfmt_misc) ran another
   * file: exe is the interpreter's path, not the file execve was given. */
  PROCMON_EXE_INTERPRETED = 32,
  /* EXEC: the image's mount is in no mount namespace (lazily unmounted,
   * umount -l) or in an anonymous one (open_tree's clone, fsmount): exe is
   * relative to that mount's root ("/" for a file that is itself the
   * mount, as d_path gives it) and names no place a process can reach. */
  PROCMON_EXE_DETACHED = 64,
  /* EXEC: cwd below is not the whole path (as PROCMON_EXE_TRUNCATED), or
   * the working directory has none (disconnected): the reader does not
   * use it. */
  PROCMON_CWD_TRUNCATED = 128,
  /* EXEC: the working directory is on a mount attached nowhere (as
   * PROCMON_EXE_DETACHED): cwd names no place. */
  PROCMON_CWD_DETACHED = 256,
  /* EXEC: image_dev and image_ino were read (an inode number can be 0 on
   * some filesystems, FUSE's, so 0 is no sign of "unknown"). */
  PROCMON_IMAGE_KNOWN = 512,
  /* EXEC: the image's path within its filesystem is deeper than fs_path
   * can hold (PROCMON_PATH_MAX): fs_path is then only its top directory,
   * "/NAME" (the walk went on to the filesystem's root without storing),
   * or, deeper than PROCMON_FS_WALK_MAX components, empty. procmond names
   * such an image's host path "<top directory's host path>/…" or "…". */
  PROCMON_FS_PATH_CUT = 1024,
};

/* The most components the walk of an image's path within its filesystem
 * goes up (bpf_loop iterations); only a path deeper than fs_path holds
 * goes past PROCMON_PATH_MAX of them. */
#define PROCMON_FS_WALK_MAX 65536

struct procmon_event {
  __u32 kind;       /* enum procmon_kind */
  __u32 flags;      /* enum procmon_flags */
  __u32 pid;        /* process id (tgid) */
  __u32 tid;        /* the thread that did it */
  __u32 ppid;       /* parent's process id (real parent) */
  __u32 uid, gid, euid, egid;
  __u32 loginuid;   /* 4294967295 when never set */
  __u64 cgroup_id;  /* cgroup v2 id of the task */
  __u64 boot_ns;    /* when, CLOCK_BOOTTIME nanoseconds */
  __u64 start_boottime; /* the process's start, ns since boot (as /proc's stat field 22) */
  __u32 exit_code;  /* EXIT: the kernel's wait status (code << 8 | signal) */
  __u32 args_size;  /* EXEC/FORK: bytes of argv copied below */
  __u32 args_total; /* EXEC/FORK: bytes of the whole argv in memory */
  __u32 path_size;  /* EXEC: bytes of the path copied below (NUL included), else 0 */
  __u32 args_tail_size; /* of args_size, the last bytes of argv (argv's end), when it was cut; else 0 */
  /* EXEC: bytes of exe below (NUL included), the kernel's path of the new
   * image's file at exec time, walked from its dentry and mount up to the
   * top of its mount tree (what /proc/PID/exe shows procmond); 0 unknown */
  __u32 exe_size;
  /* EXEC: 1 the task's root directory is procmond's (the same dentry), 0
   * another, -1 unknown (procmond's not recorded yet) */
  __s32 root_is_host;
  char comm[16];
  /* EXEC: bytes of cwd below (NUL included), the kernel's path of the
   * task's working directory at exec time, walked as exe is (what
   * /proc/PID/cwd shows procmond); 0 unknown. */
  __u32 cwd_size;
  /* EXEC: the image's identity, of bprm->file->f_inode (the file that runs:
   * a script's interpreter): its inode number (0 unknown) and its
   * filesystem's device (i_sb->s_dev, the kernel's encoding: major << 20 |
   * minor; the reader turns it into the userspace dev_t). */
  __u64 image_ino;
  __u32 image_dev;
  /* EXEC: bytes of fs_path below (NUL included), the image's path within
   * its own filesystem: its dentry walked up to the superblock's root,
   * mounts ignored (what mountinfo's field 4 is for a mount); 0 unknown
   * (too deep, a pseudo file such as a memfd, the walk refused). procmond
   * finds the host's path of it in its own mount table. */
  __u32 fs_path_size;
  /* EXEC: the exec'ing task's mount namespace (nsproxy->mnt_ns->ns.inum,
   * the inode number /proc/PID/ns/mnt shows); 0 unknown. procmond takes
   * the kernel's path of the image as its host path only when this is its
   * own namespace. */
  __u32 mnt_ns;
  __u32 reserved; /* 0; the struct is 136 bytes */
  /* followed by path_size bytes of path, then exe_size bytes of exe, then
   * cwd_size bytes of cwd, then fs_path_size bytes of fs_path, then
   * args_size bytes of argv: its head, then (args_tail_size > 0) its tail */
};

#endif
