// Allocation of envelopes and cells: per-thread free lists per size class,
// exchanged in batches through a small global depot (one mutex acquisition
// per kBatch allocations or frees), so a receiver's frees feed the senders'
// allocations whichever threads they run on, and a cell costs its size and
// nothing more (no malloc header, exact 64-byte alignment).
#include <airssys/rt/detail/cell.hpp>
#include <airssys/rt/envelope.hpp>

#include "pool.hpp"

#include <sys/mman.h>
#include <time.h>

#include <cstdint>
#include <mutex>
#include <new>
#include <tuple>
#include <utility>
#include <vector>

namespace airssys::rt::detail {

std::int64_t now_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

namespace {

#if (defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)) && !defined(AIRSSYS_RT_POOL_ALWAYS)
// Let the sanitizers see every allocation; the pool's own test
// (pool_test.cpp) builds it with AIRSSYS_RT_POOL_ALWAYS.
constexpr bool kPool = false;
#else
constexpr bool kPool = true;
#endif

// Size classes are multiples of the cache line; every block is 64-aligned
// (slabs are), which the cells' producer/consumer split relies on.
constexpr std::size_t kLine = 64;
constexpr int kClasses = 8;  // 64 .. 512 bytes
constexpr std::uint32_t kBatch = 128;

int class_of(std::size_t n) noexcept {
  std::size_t c = (n + kLine - 1) / kLine;
  return c >= 1 && c <= kClasses ? static_cast<int>(c - 1) : -1;
}
std::size_t class_size(int c) noexcept { return static_cast<std::size_t>(c + 1) * kLine; }

struct Block {
  Block* next;
};

// Batches of free blocks shared between threads. Memory is never returned
// to the OS: the pool retains the peak number of live envelopes and cells.
struct Depot {
  std::mutex m;
  std::vector<Block*> batches[kClasses];  // each a list of kBatch blocks
  // What exiting threads held beyond their full batches: a list of fewer
  // than kBatch blocks each, handed out like a batch (with its own count)
  // once no full batch is left, so that threads that come and go (systems
  // created and destroyed, callers' threads) do not strand blocks.
  std::vector<std::pair<Block*, std::uint32_t>> partial[kClasses];
};
Depot& depot() {
  static Depot* d = new Depot();  // NOLINT: immortal, threads may free during exit
  return *d;
}

// Slabs are cut from 2 MiB regions, each aligned to 2 MiB and backed by one
// transparent huge page where the kernel has one (MADV_HUGEPAGE: THP's
// "madvise" mode, Debian's default, gives huge pages only to those who ask)
// and prefaulted (MADV_POPULATE_WRITE). Why: on this VM the first user-mode
// write to each fresh 4 KiB page costs ~4 us even after MAP_POPULATE, so
// fresh memory cost ~2 ms per MiB (mapped, populated, then written every
// 128 bytes), against ~80 us per MiB behind huge pages (/tmp microbenchmark,
// 32 MiB, three runs each). Spawning 100,000 actors carves ~20 MiB of cells
// and envelopes (the replies queue up while the spawner runs), which made
// this the largest cost of the spawn benchmark: 85 % of the spawning
// handler's samples sat on the first store into a new slab. The price is
// resident memory before the first actor needs it: one region, or the
// reserve (SystemConfig::memory_reserve, pool_reserve()) if larger.
// Without THP (disabled, or no huge page free) a region falls back to 4 KiB
// pages, prefaulted as before.
constexpr std::size_t kRegion = std::size_t{2} << 20;

char* map_region() {
  // Twice the size, then trimmed to the aligned 2 MiB inside it.
  void* r = mmap(nullptr, 2 * kRegion, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (r == MAP_FAILED) throw std::bad_alloc();
  auto base = reinterpret_cast<std::uintptr_t>(r);
  const std::uintptr_t aligned = (base + kRegion - 1) & ~(std::uintptr_t{kRegion} - 1);
  if (aligned > base) munmap(r, aligned - base);
  if (const std::uintptr_t end = base + 2 * kRegion; end > aligned + kRegion)
    munmap(reinterpret_cast<void*>(aligned + kRegion), end - (aligned + kRegion));
  auto* p = reinterpret_cast<char*>(aligned);
  (void)madvise(p, kRegion, MADV_HUGEPAGE);  // advice only: 4 KiB pages if refused
  if (madvise(p, kRegion, MADV_POPULATE_WRITE) != 0) {
    // Before Linux 5.14 (EINVAL): fault it in by writing, so that a reserve
    // is resident as promised rather than on its first use.
    for (std::size_t off = 0; off < kRegion; off += 4096) static_cast<volatile char*>(p)[off] = 0;
  }
  return p;
}

// Regions mapped and not yet cut: the current one (next/left) and those
// prepared ahead by pool_reserve(). `mapped` counts every region this
// process mapped (the pool never returns one).
struct Regions {
  std::mutex m;
  char* next = nullptr;
  std::size_t left = 0;
  std::vector<char*> ready;
  std::size_t mapped = 0;
};
Regions& regions() {
  static Regions* r = new Regions();  // NOLINT: immortal, like the depot
  return *r;
}

char* slab_memory(std::size_t bytes) {
  Regions& r = regions();
  std::lock_guard lk(r.m);
  if (r.left < bytes) {
    // The tail of the previous region is abandoned (< one slab).
    if (!r.ready.empty()) {
      r.next = r.ready.back();
      r.ready.pop_back();
    } else {
      r.next = map_region();
      r.mapped += kRegion;
    }
    r.left = kRegion;
  }
  char* p = r.next;
  r.next += bytes;
  r.left -= bytes;
  return p;
}

Block* carve(int c) {
  const std::size_t sz = class_size(c);
  // Slabs are multiples of 128 bytes, so each starts 128-aligned: a 128-byte
  // envelope then fills an aligned pair of lines, which the adjacent-line
  // prefetcher fetches together.
  const std::size_t bytes = (sz * kBatch + 2 * kLine - 1) / (2 * kLine) * (2 * kLine);
  char* slab = slab_memory(bytes);
  Block* head = nullptr;
  for (std::uint32_t i = kBatch; i-- > 0;) {
    auto* b = reinterpret_cast<Block*>(slab + i * sz);
    b->next = head;
    head = b;
  }
  return head;
}

struct Cache {
  Block* head[kClasses] = {};
  std::uint32_t count[kClasses] = {};

  // A thread that exits hands its blocks back to the depot.
  ~Cache() {
    for (int c = 0; c < kClasses; ++c)
      while (count[c] >= kBatch) spill(c);
    // Fewer than kBatch left per class: handed back as a partial batch.
    for (int c = 0; c < kClasses; ++c)
      if (head[c] != nullptr) {
        Depot& d = depot();
        std::lock_guard lk(d.m);
        try {
          d.partial[c].emplace_back(head[c], count[c]);
        } catch (...) {  // NOLINT: out of memory for the vector: the blocks leak
        }
      }
  }

  void* alloc(int c) {
    if (head[c] == nullptr) refill(c);
    Block* b = head[c];
    Block* next = b->next;
    head[c] = next;
    --count[c];
    // The next block of this class is fetched while the caller fills this
    // one: a block usually comes back from another core (a cell or an
    // envelope freed where its actor ran), and in a profile of rt_bench
    // spawn the stores of a cell's constructor waiting for those lines took
    // most of start_cell's samples.
    if (next != nullptr) prefetch_for_write(next, class_size(c));
    return b;
  }

  void release(int c, void* p) noexcept {
    auto* b = static_cast<Block*>(p);
    b->next = head[c];
    head[c] = b;
    if (++count[c] >= 2 * kBatch) spill(c);
  }

  void refill(int c) {
    {
      Depot& d = depot();
      std::lock_guard lk(d.m);
      if (!d.batches[c].empty()) {
        head[c] = d.batches[c].back();
        d.batches[c].pop_back();
        count[c] = kBatch;
        return;
      }
      if (!d.partial[c].empty()) {
        std::tie(head[c], count[c]) = d.partial[c].back();
        d.partial[c].pop_back();
        return;
      }
    }
    head[c] = carve(c);
    count[c] = kBatch;
  }

  void spill(int c) noexcept {
    Block* first = head[c];
    Block* last = first;
    for (std::uint32_t i = 1; i < kBatch; ++i) last = last->next;
    head[c] = last->next;
    last->next = nullptr;
    count[c] -= kBatch;
    Depot& d = depot();
    std::lock_guard lk(d.m);
    try {
      d.batches[c].push_back(first);
    } catch (...) {  // NOLINT: out of memory for the vector: the blocks leak
    }
  }

};

thread_local Cache tls_cache;

void* pool_alloc(std::size_t n) {
  if constexpr (kPool) {
    int c = class_of(n);
    if (c >= 0) return tls_cache.alloc(c);
  }
  return ::operator new(n, std::align_val_t{kLine});
}

void pool_free(void* p, std::size_t n) noexcept {
  if constexpr (kPool) {
    int c = class_of(n);
    if (c >= 0) {
      tls_cache.release(c, p);
      return;
    }
  }
  ::operator delete(p, std::align_val_t{kLine});
}

}  // namespace

void* pool_allocate(std::size_t n) { return pool_alloc(n); }

std::size_t pool_mapped_bytes() noexcept {
  Regions& r = regions();
  std::lock_guard lk(r.m);
  return r.mapped;
}

void pool_reserve(std::size_t bytes) {
  if constexpr (kPool) {
    Regions& r = regions();
    // Mapped and populated outside the lock (ms per region while a VM's
    // host supplies the memory), so that other threads' carving never waits
    // for it; two reserves at once may map a region more than asked.
    for (;;) {
      {
        std::lock_guard lk(r.m);
        if (r.mapped >= bytes) return;
      }
      char* p = map_region();
      std::lock_guard lk(r.m);
      r.ready.push_back(p);  // bad_alloc here would drop one region: it stays mapped, unused
      r.mapped += kRegion;
    }
  }
}
void pool_deallocate(void* p, std::size_t n) noexcept { pool_free(p, n); }

void* Envelope::operator new(std::size_t n) { return pool_alloc(n); }
void Envelope::operator delete(void* p, std::size_t n) noexcept { pool_free(p, n); }
void* CellBase::operator new(std::size_t n) { return pool_alloc(n); }
void CellBase::operator delete(void* p, std::size_t n) noexcept { pool_free(p, n); }

}  // namespace airssys::rt::detail
