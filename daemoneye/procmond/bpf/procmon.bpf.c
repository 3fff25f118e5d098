// SPDX-License-Identifier: GPL-2.0
/* procmond's eBPF programs: exec, fork and exit of every process, captured in
 * the kernel as they happen and sent through one BPF ring buffer
 * (docs/daemoneye.md "Event sources").
 *
 * BTF-enabled raw tracepoints (tp_btf) need no tracefs; CO-RE reads
 * (BPF_CORE_READ) keep one object working across kernel versions.
 *
 * Lost events: a record that does not fit in the ring buffer is counted in
 * `lost` (per CPU) and the reader reports the sum.
 *
 * An exec's record also carries the kernel's path of the new image's file
 * and whether the task's root directory is procmond's, both read here, at
 * exec time, before the new image runs a single instruction: reading
 * /proc/PID/exe and /proc/PID/root later is a race the process can win
 * (exit first, or exec again). bpf_d_path() would be the kernel's own
 * d_path, but it is refused in tp_btf programs and only allowed in fentry
 * programs on a few functions, and fentry cannot be loaded everywhere
 * tp_btf can (it needs ftrace; a kernel may refuse it, as the 6.18 this was
 * written on does, EPERM): the path is walked here instead, as d_path does
 * (docs/daemoneye.md "Event sources"). */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "procmon_event.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by the loader before load: the ring buffer's size (a power of two). */
struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 8 * 1024 * 1024);
} events SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} lost SEC(".maps");

/* Set by the loader before load: procmond's own process id (tgid). */
const volatile __u32 procmond_tgid = 0;

/* procmond's root directory (its dentry), recorded by procmon_fork the first
 * time procmond makes a thread or a process (the loader makes one right
 * after attaching); 0 until then, and an exec's root_is_host stays unknown.
 * One dentry per directory: the same dentry is the same directory inode,
 * the collector's device+inode test of /proc/PID/root. */
__u64 procmond_root = 0;

#define NAME_MAX_BYTES 256 /* a path component is at most 255 bytes */

/* One record being built, per CPU (too big for the 512-byte BPF stack):
 * data holds the given path, exe, cwd, fs_path, then argv (argv at an
 * offset below 4 * PROCMON_PATH_MAX). A per-CPU array's value is at most
 * 32 KiB, which this record passes: so a plain array of one value per
 * possible CPU (the loader sets max_entries), indexed by the CPU this runs
 * on. A tracepoint's program runs with preemption off, so no other program
 * run takes the same value meanwhile, as with a per-CPU array. */
struct scratch {
  struct procmon_event e;
  char data[PROCMON_PATH_MAX * 4 + PROCMON_ARGS_MAX];
};

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct scratch);
} scratch_map SEC(".maps");

static __always_inline struct scratch *scratch_get(void) {
  __u32 cpu = bpf_get_smp_processor_id();
  return bpf_map_lookup_elem(&scratch_map, &cpu);
}

/* Where exe and cwd are built backwards, from the file up to the top of
 * its mount tree, per CPU (a map of its own: with the record it would pass
 * the 32 KiB a per-CPU value may have). */
struct walk_buf {
  char walk[PROCMON_PATH_MAX + NAME_MAX_BYTES];
};

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct walk_buf);
} walk_map SEC(".maps");

static __always_inline struct walk_buf *walk_get(void) {
  __u32 zero = 0;
  return bpf_map_lookup_elem(&walk_map, &zero);
}

static __always_inline void count_lost(void) {
  __u32 zero = 0;
  __u64 *n = bpf_map_lookup_elem(&lost, &zero);
  if (n) *n += 1;
}

static __always_inline void fill_identity(struct procmon_event *e, struct task_struct *task, __u32 kind) {
  e->kind = kind;
  e->flags = 0;
  e->pid = BPF_CORE_READ(task, tgid);
  e->tid = BPF_CORE_READ(task, pid);
  e->ppid = BPF_CORE_READ(task, real_parent, tgid);
  e->uid = BPF_CORE_READ(task, real_cred, uid.val);
  e->gid = BPF_CORE_READ(task, real_cred, gid.val);
  e->euid = BPF_CORE_READ(task, cred, euid.val);
  e->egid = BPF_CORE_READ(task, cred, egid.val);
  e->loginuid = BPF_CORE_READ(task, loginuid.val);
  e->cgroup_id = bpf_get_current_cgroup_id();
  e->boot_ns = bpf_ktime_get_boot_ns();
  e->start_boottime = BPF_CORE_READ(task, group_leader, start_boottime);
  e->exit_code = 0;
  e->args_size = 0;
  e->args_total = 0;
  e->path_size = 0;
  e->args_tail_size = 0;
  e->exe_size = 0;
  e->root_is_host = -1;
  e->cwd_size = 0;
  e->image_ino = 0;
  e->image_dev = 0;
  e->fs_path_size = 0;
  e->mnt_ns = 0;
  e->reserved = 0;
  BPF_CORE_READ_STR_INTO(&e->comm, task, comm);
}

/* argv of the current task's memory, at data + off (off < 4 * PROCMON_PATH_MAX,
 * a sum of sizes each masked below PROCMON_PATH_MAX, which bounds it for the
 * verifier):
 * all of it when it fits, else its head and its tail (procmon_event.h). */
static __always_inline void copy_args(struct scratch *s, struct task_struct *task, __u32 off) {
  unsigned long start = BPF_CORE_READ(task, mm, arg_start);
  unsigned long end = BPF_CORE_READ(task, mm, arg_end);
  if (end <= start) return;
  unsigned long total = end - start;
  s->e.args_total = total > 0xffffffffUL ? 0xffffffffU : (__u32)total;
  if (total < PROCMON_ARGS_MAX) {
    __u32 n = (__u32)total & (PROCMON_ARGS_MAX - 1);
    if (bpf_probe_read_user(s->data + off, n, (const void *)start) != 0) {
      s->e.flags |= PROCMON_ARGS_UNREADABLE;
      return;
    }
    s->e.args_size = n;
    return;
  }
  s->e.flags |= PROCMON_ARGS_TRUNCATED;
  const __u32 tail = PROCMON_ARGS_MAX - 1 - PROCMON_ARGS_HEAD;
  if (bpf_probe_read_user(s->data + off, PROCMON_ARGS_HEAD, (const void *)start) != 0 ||
      bpf_probe_read_user(s->data + off + PROCMON_ARGS_HEAD, tail, (const void *)(end - tail)) != 0) {
    s->e.flags |= PROCMON_ARGS_UNREADABLE;
    return;
  }
  s->e.args_size = PROCMON_ARGS_HEAD + tail;
  s->e.args_tail_size = tail;
}

static __always_inline void submit(struct scratch *s) {
  __u64 size = sizeof(struct procmon_event) + (s->e.path_size & (PROCMON_PATH_MAX - 1)) +
               (s->e.exe_size & (PROCMON_PATH_MAX - 1)) + (s->e.cwd_size & (PROCMON_PATH_MAX - 1)) +
               (s->e.fs_path_size & (PROCMON_PATH_MAX - 1)) + (s->e.args_size & (PROCMON_ARGS_MAX - 1));
  if (size > sizeof(struct procmon_event) + sizeof(s->data)) return;
  if (bpf_ringbuf_output(&events, s, size, 0) != 0) count_lost();
}

/* The walk of one path (walk_step, one bpf_loop iteration per component
 * or mount crossed). The name is prepended at walk[pos]. */
struct walk_state {
  struct dentry *dentry;
  struct mount *mnt;
  /* fs_only: the path within the file's own filesystem, mounts ignored,
   * up to top, the superblock's root (set by the caller); mnt unused. */
  struct dentry *top;
  __u32 fs_only;
  __u32 pos;  /* walk[pos..PROCMON_PATH_MAX - 1] is the path so far, NUL last */
  __u32 done; /* 1 reached the top (of the mount tree, or the filesystem), 2 gave up */
  __u32 pseudo;
  __u32 detached;
  /* fs_only: the path did not fit; the walk goes on up without storing,
   * below_top the last dentry passed (at the end, the top directory). */
  __u32 overflow;
  struct dentry *below_top;
};

/* is_anon_ns() of kernels before and after 6.18, which numbers mount
 * namespaces with ns_common's ns_id in place of their own seq: 0 for an
 * anonymous one (open_tree's OPEN_TREE_CLONE, fsmount). */
struct mnt_namespace___seq {
  __u64 seq;
} __attribute__((preserve_access_index));
struct ns_common___id {
  __u64 ns_id;
} __attribute__((preserve_access_index));
struct mnt_namespace___id {
  struct ns_common___id ns;
} __attribute__((preserve_access_index));

static __always_inline int anon_ns(struct mnt_namespace *ns) {
  if (bpf_core_field_exists(struct mnt_namespace___seq, seq))
    return BPF_CORE_READ((struct mnt_namespace___seq *)ns, seq) == 0;
  return BPF_CORE_READ((struct mnt_namespace___id *)ns, ns.ns_id) == 0;
}

/* Puts "/NAME" of d before walk[pos]; false when it does not fit. */
static __always_inline int prepend_name(struct walk_buf *s, struct walk_state *w, struct dentry *d) {
  __u32 len = BPF_CORE_READ(d, d_name.len);
  const unsigned char *name = BPF_CORE_READ(d, d_name.name);
  if (len >= NAME_MAX_BYTES || len + 1 > w->pos) return 0;
  __u32 at = w->pos - len;
  if (bpf_probe_read_kernel(&s->walk[at & (PROCMON_PATH_MAX - 1)], len & (NAME_MAX_BYTES - 1), name) != 0) return 0;
  at -= 1;
  s->walk[at & (PROCMON_PATH_MAX - 1)] = '/';
  w->pos = at;
  return 1;
}

/* One step of __prepend_path (fs/d_path.c), with the top of the file's mount
 * tree for the reader's root: at a mount's root, go on from its mountpoint
 * in the parent mount; a mount that is its own parent is the top (its
 * namespace's root, or a detached mount: then nothing more is prepended,
 * and a file that is itself such a mount's root reads "/", as d_path
 * gives it). With fs_only, mounts are not crossed: the walk goes up the
 * dentries to the superblock's root, whatever is mounted where. */
static long walk_step(__u64 i, void *ctx) {
  struct walk_state *w = ctx;
  struct walk_buf *s = walk_get();
  if (!s) {
    w->done = 2;
    return 1;
  }
  struct dentry *dentry = w->dentry;
  struct mount *mnt = w->mnt;
  struct dentry *root = w->fs_only ? NULL : BPF_CORE_READ(mnt, mnt.mnt_root);
  if (!w->fs_only && dentry == root) {
    struct mount *up = BPF_CORE_READ(mnt, mnt_parent);
    if (up == mnt) {
      /* is_mounted() and is_anon_ns() (fs/mount.h). */
      struct mnt_namespace *ns = BPF_CORE_READ(mnt, mnt_ns);
      if (!ns || anon_ns(ns)) w->detached = 1;
      w->done = 1;
      return 1;
    }
    w->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
    w->mnt = up;
    return 0;
  }
  struct dentry *parent = BPF_CORE_READ(dentry, d_parent);
  if (parent == dentry && w->fs_only) {
    /* The filesystem's root, or a dentry connected to none (a pseudo file,
     * a disconnected one): the latter has no path in its filesystem. */
    w->done = dentry == w->top ? 1 : 2;
    return 1;
  }
  if (parent == dentry) {
    /* Not connected to its mount's root. The file itself so: a pseudo
     * file (a memfd), which d_path names "/NAME (deleted)" (simple_dname).
     * Further up: a disconnected directory, which has no path. */
    if (i == 0 && prepend_name(s, w, dentry)) {
      w->pseudo = 1;
      w->done = 1;
    } else {
      w->done = 2;
    }
    return 1;
  }
  /* fs_only: a path deeper than the buffer still has a known top, which
   * is what says where the host sees it (a /tmp directory bound
   * elsewhere and a deep tree under it must not hide the /tmp). */
  if (w->overflow || !prepend_name(s, w, dentry)) {
    if (!w->fs_only) {
      w->done = 2;
      return 1;
    }
    w->overflow = 1;
    w->below_top = dentry;
  }
  w->dentry = parent;
  return 0;
}

/* The kernel's path of dentry on vfsmnt, walked to the top of its mount
 * tree (w->fs_only: to its filesystem's root, vfsmnt unused), into
 * data + off (off < 4 * PROCMON_PATH_MAX): the bytes written
 * (NUL included), or 0 when it is too deep or too long or has no path;
 * w says whether it is detached or a pseudo file. Not under rename_lock as
 * d_path is: a directory renamed by another task while this runs can give
 * a mix of its old and new names. */
static __always_inline __u32 copy_walk(struct scratch *s, struct dentry *dentry, struct vfsmount *vfsmnt, __u32 off,
                                       struct walk_state *w) {
  struct walk_buf *b = walk_get();
  if (!b || !dentry || (!vfsmnt && !w->fs_only)) return 0;
  w->dentry = dentry;
  w->mnt = vfsmnt ? container_of(vfsmnt, struct mount, mnt) : NULL;
  w->pos = PROCMON_PATH_MAX - 1;
  b->walk[PROCMON_PATH_MAX - 1] = 0;
  /* Each step prepends at least 2 bytes or crosses a mount; fs_only goes
   * on past a full buffer (overflow). */
  bpf_loop(w->fs_only ? PROCMON_FS_WALK_MAX : PROCMON_PATH_MAX, walk_step, w, 0);
  if (w->done != 1) return 0;
  if (w->overflow) {
    /* Only the top directory, "/NAME". */
    w->pos = PROCMON_PATH_MAX - 1;
    if (!w->below_top || !prepend_name(b, w, w->below_top)) return 0;
  }
  if (w->pos == PROCMON_PATH_MAX - 1) {
    w->pos -= 1;
    b->walk[w->pos & (PROCMON_PATH_MAX - 1)] = '/';
  }
  __u32 n = PROCMON_PATH_MAX - w->pos;
  off &= 4 * PROCMON_PATH_MAX - 1;
  if (bpf_probe_read_kernel(s->data + off, n & (PROCMON_PATH_MAX - 1), &b->walk[w->pos & (PROCMON_PATH_MAX - 1)]) != 0)
    return 0;
  return n & (PROCMON_PATH_MAX - 1);
}

/* The kernel's path of the image's file into data + off: exe_size, or
 * PROCMON_EXE_TRUNCATED. */
static __always_inline void copy_exe(struct scratch *s, struct file *file, __u32 off) {
  struct dentry *dentry = BPF_CORE_READ(file, f_path.dentry);
  struct walk_state w = {};
  const __u32 n = copy_walk(s, dentry, BPF_CORE_READ(file, f_path.mnt), off, &w);
  if (n == 0) {
    s->e.flags |= PROCMON_EXE_TRUNCATED;
    return;
  }
  /* d_unlinked(): unhashed and not a root; a pseudo file is unhashed too. */
  const int unhashed = BPF_CORE_READ(dentry, d_hash.pprev) == NULL;
  const int is_root = BPF_CORE_READ(dentry, d_parent) == dentry;
  if (unhashed && (!is_root || w.pseudo)) s->e.flags |= PROCMON_EXE_DELETED;
  if (w.detached) s->e.flags |= PROCMON_EXE_DETACHED;
  s->e.exe_size = n;
}

/* The image's identity (bprm->file->f_inode: inode number, its
 * filesystem's device) and, with `walk`, its path within that filesystem
 * into data + off: fs_path_size, or 0 (unknown). procmond maps the device
 * and this path to the host's path through its own mount table, so a bind
 * mount the process made in a namespace of its own (/tmp/dir onto /mnt)
 * does not hide where the file is. */
static __always_inline void copy_image(struct scratch *s, struct file *file, __u32 off, const int walk) {
  struct inode *inode = BPF_CORE_READ(file, f_inode);
  if (!inode) return;
  s->e.image_ino = BPF_CORE_READ(inode, i_ino);
  s->e.image_dev = BPF_CORE_READ(inode, i_sb, s_dev);
  s->e.flags |= PROCMON_IMAGE_KNOWN;
  if (!walk) return;
  struct walk_state w = {};
  w.fs_only = 1;
  w.top = BPF_CORE_READ(inode, i_sb, s_root);
  s->e.fs_path_size = copy_walk(s, BPF_CORE_READ(file, f_path.dentry), NULL, off, &w);
  /* Deeper than the buffer ("/TOP" kept), or than the walk goes (none). */
  if (w.overflow || w.done == 0) s->e.flags |= PROCMON_FS_PATH_CUT;
}

/* The kernel's path of the task's working directory at the exec into
 * data + off: cwd_size, or PROCMON_CWD_TRUNCATED. A relative path given to
 * execve was resolved against it; the directory procmond knew before (the
 * parent's, at the fork) may be stale: a child that chdir()s and execs
 * "./x" at once. */
static __always_inline void copy_cwd(struct scratch *s, struct task_struct *task, __u32 off) {
  struct walk_state w = {};
  const __u32 n = copy_walk(s, BPF_CORE_READ(task, fs, pwd.dentry), BPF_CORE_READ(task, fs, pwd.mnt), off, &w);
  if (n == 0 || w.pseudo) {
    s->e.flags |= PROCMON_CWD_TRUNCATED;
    return;
  }
  if (w.detached) s->e.flags |= PROCMON_CWD_DETACHED;
  s->e.cwd_size = n;
}

/* The exec record; `walk`: with the kernel's paths of the image and of the
 * working directory (copy_exe, copy_cwd) and the image's path in its
 * filesystem (copy_image; its device and inode either way). */
static __always_inline int exec_record(struct task_struct *task, struct linux_binprm *bprm, const int walk) {
  struct scratch *s = scratch_get();
  if (!s) return 0;
  fill_identity(&s->e, task, PROCMON_EXEC);
  const char *filename = BPF_CORE_READ(bprm, filename);
  long n = bpf_probe_read_kernel_str(s->data, PROCMON_PATH_MAX, filename);
  if (n < 0) n = 0;
  if (n >= PROCMON_PATH_MAX) s->e.flags |= PROCMON_PATH_TRUNCATED;
  s->e.path_size = (__u32)n & (PROCMON_PATH_MAX - 1);
  /* binfmt_script and binfmt_misc point interp at the interpreter they run;
   * otherwise it is filename itself. */
  if (BPF_CORE_READ(bprm, interp) != filename) s->e.flags |= PROCMON_EXE_INTERPRETED;
  if (walk) {
    copy_exe(s, BPF_CORE_READ(bprm, file), s->e.path_size);
    copy_cwd(s, task, (s->e.path_size & (PROCMON_PATH_MAX - 1)) + (s->e.exe_size & (PROCMON_PATH_MAX - 1)));
  }
  copy_image(s, BPF_CORE_READ(bprm, file),
             (s->e.path_size & (PROCMON_PATH_MAX - 1)) + (s->e.exe_size & (PROCMON_PATH_MAX - 1)) +
                 (s->e.cwd_size & (PROCMON_PATH_MAX - 1)),
             walk);
  s->e.mnt_ns = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
  const __u64 root = (__u64)BPF_CORE_READ(task, fs, root.dentry);
  const __u64 ours = procmond_root;
  if (ours != 0 && root != 0) s->e.root_is_host = root == ours ? 1 : 0;
  copy_args(s, task,
            (s->e.path_size & (PROCMON_PATH_MAX - 1)) + (s->e.exe_size & (PROCMON_PATH_MAX - 1)) +
                (s->e.cwd_size & (PROCMON_PATH_MAX - 1)) + (s->e.fs_path_size & (PROCMON_PATH_MAX - 1)));
  submit(s);
  return 0;
}

/* Set by the loader before load, by a test only: procmon_exec then reads
 * past the end of a map value, which the verifier must reject, so that the
 * fallback to procmon_exec_given is exercised. */
const volatile __u32 test_reject_walk = 0;

SEC("tp_btf/sched_process_exec")
int BPF_PROG(procmon_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm) {
  if (test_reject_walk) {
    struct scratch *s = scratch_get();
    if (!s) return 0;
    volatile __u32 past_the_end = sizeof(*s) + 64;
    return s->data[past_the_end];
  }
  return exec_record(task, bprm, 1);
}

/* procmon_exec without the walk (bpf_loop needs Linux 5.17; a kernel's
 * verifier may refuse the walk): loaded in its place when it is refused, so
 * that exec events keep coming, with the path given only. */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(procmon_exec_given, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm) {
  return exec_record(task, bprm, 0);
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(procmon_fork, struct task_struct *parent, struct task_struct *child) {
  if (procmond_root == 0 && procmond_tgid != 0 && BPF_CORE_READ(parent, tgid) == procmond_tgid) {
    procmond_root = (__u64)BPF_CORE_READ(parent, fs, root.dentry);
  }
  /* Threads share their process's tgid: only new processes are reported. */
  if (BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid)) return 0;
  struct scratch *s = scratch_get();
  if (!s) return 0;
  fill_identity(&s->e, child, PROCMON_FORK);
  s->e.start_boottime = BPF_CORE_READ(child, start_boottime);
  /* The child's memory is a copy of the parent's, which is current here. */
  copy_args(s, parent, 0);
  submit(s);
  return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(procmon_exit, struct task_struct *task) {
  /* signal->live reached 0 before this tracepoint when the last thread of
   * the process exits; earlier threads are not a process exit. */
  if (BPF_CORE_READ(task, signal, live.counter) != 0) return 0;
  struct scratch *s = scratch_get();
  if (!s) return 0;
  fill_identity(&s->e, task, PROCMON_EXIT);
  s->e.exit_code = BPF_CORE_READ(task, exit_code);
  submit(s);
  return 0;
}

/* Not attached in normal runs: the verifier must reject it (it reads past the
 * end of a map value). procmond's --test-verifier-reject loads it to show
 * how a rejection is reported and fallen back from. */
SEC("tp_btf/sched_process_exec")
int procmon_rejected(void *ctx) {
  struct scratch *s = scratch_get();
  if (!s) return 0;
  volatile __u32 past_the_end = sizeof(*s) + 64;
  return s->data[past_the_end];
}
