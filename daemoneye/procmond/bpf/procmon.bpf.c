// SPDX-License-Identifier: GPL-2.0
/* procmond's eBPF programs: exec, fork and exit of every process, captured in
 * the kernel as they happen and sent through one BPF ring buffer
 * (docs/daemoneye.md "Event sources").
 *
 * BTF-enabled raw tracepoints (tp_btf) need no tracefs; CO-RE reads
 * (BPF_CORE_READ) keep one object working across kernel versions.
 *
 * Lost events: a record that does not fit in the ring buffer is counted in
 * `lost` (per CPU) and the reader reports the sum. */
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

/* One record being built, per CPU (too big for the 512-byte BPF stack). */
struct scratch {
  struct procmon_event e;
  char data[PROCMON_PATH_MAX + PROCMON_ARGS_MAX];
};

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct scratch);
} scratch_map SEC(".maps");

static __always_inline struct scratch *scratch_get(void) {
  __u32 zero = 0;
  return bpf_map_lookup_elem(&scratch_map, &zero);
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
  BPF_CORE_READ_STR_INTO(&e->comm, task, comm);
}

/* argv of the current task's memory, at data + off (off < PROCMON_PATH_MAX):
 * all of it when it fits, else its head and its tail (procmon_event.h). */
static __always_inline void copy_args(struct scratch *s, struct task_struct *task, __u32 off) {
  unsigned long start = BPF_CORE_READ(task, mm, arg_start);
  unsigned long end = BPF_CORE_READ(task, mm, arg_end);
  if (end <= start) return;
  unsigned long total = end - start;
  s->e.args_total = total > 0xffffffffUL ? 0xffffffffU : (__u32)total;
  off &= PROCMON_PATH_MAX - 1;
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
               (s->e.args_size & (PROCMON_ARGS_MAX - 1));
  if (size > sizeof(struct scratch)) return;
  if (bpf_ringbuf_output(&events, s, size, 0) != 0) count_lost();
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(procmon_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm) {
  struct scratch *s = scratch_get();
  if (!s) return 0;
  fill_identity(&s->e, task, PROCMON_EXEC);
  const char *filename = BPF_CORE_READ(bprm, filename);
  long n = bpf_probe_read_kernel_str(s->data, PROCMON_PATH_MAX, filename);
  if (n < 0) n = 0;
  if (n >= PROCMON_PATH_MAX) s->e.flags |= PROCMON_PATH_TRUNCATED;
  s->e.path_size = (__u32)n & (PROCMON_PATH_MAX - 1);
  copy_args(s, task, s->e.path_size);
  submit(s);
  return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(procmon_fork, struct task_struct *parent, struct task_struct *child) {
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
  volatile __u32 past_the_end = sizeof(s->data) + 64;
  return s->data[past_the_end];
}
