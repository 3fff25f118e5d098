#pragma once
// The runtime's allocator for small blocks (pool.cpp): per-thread free lists
// per 64-byte size class up to 512 bytes, every block 64-aligned, exchanged
// between threads in batches. Envelopes and cells use it through their
// class operator new; other runtime structures that one thread allocates
// and another frees (spawn chunks, scheduler.cpp) call it directly.
#include <cstddef>

namespace airssys::rt::detail {

// Any size; above 512 bytes (and in sanitizer builds) the global operator
// new with 64-byte alignment. Throws std::bad_alloc.
void* pool_allocate(std::size_t n);
// Maps and prefaults regions until the process's pool holds at least
// `bytes` in all (counting what it already holds, used or not), so that a
// burst of allocations after it does not wait for fresh memory. Throws
// std::bad_alloc. A no-op in sanitizer builds (no pool there).
void pool_reserve(std::size_t bytes);
// Bytes of regions the pool has mapped in this process so far (0 where the
// pool is compiled out). For tests and statistics.
std::size_t pool_mapped_bytes() noexcept;
// n: the size given to pool_allocate.
void pool_deallocate(void* p, std::size_t n) noexcept;

// PREFETCHW over [p, p + n): the lines in exclusive state, so that the
// stores into them need not wait for ownership (a plain prefetch fetches
// them shared and the first store asks again). GCC's __builtin_prefetch(p, 1)
// emits a read prefetch unless built with -mprfchw, hence the instruction
// itself on x86-64 (AMD since K6, Intel since Broadwell advertise it; older
// Intel CPUs decode 0F 0D as a NOP); elsewhere the portable builtin. A
// prefetch never faults, so a hint may name memory that has been freed.
inline void prefetch_for_write(const void* p, std::size_t n) noexcept {
  for (std::size_t off = 0; off < n; off += 64) {
#if defined(__x86_64__)
    asm volatile("prefetchw %0" : : "m"(*(static_cast<const char*>(p) + off)));
#else
    __builtin_prefetch(static_cast<const char*>(p) + off, 1, 3);
#endif
  }
}

}  // namespace airssys::rt::detail
