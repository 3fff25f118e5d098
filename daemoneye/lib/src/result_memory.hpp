#pragma once
// What a query result holds in memory, about: the one estimate behind
// QueryEngine's max_bytes (counted from SQLite's column types and sizes
// before a row is copied) and fleet query's cap on the replies it keeps
// (memory_estimate, over decoded replies). Every value is a Value
// (sizeof(Value), 40 bytes) whatever it holds, so numbers and NULLs are not
// free: a row of 64 integers is ~2.6 KB, and a million of them ~2.6 GB
// (outside probe, session 13: max_bytes counted only text and blob bytes,
// and `daemoneye-cli query` of such a result grew to 3 GB).
//
// Thread safety: pure functions.

#include <airssys/daemoneye/query_engine.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace airssys::daemoneye::detail {

inline constexpr std::size_t kHeapBlockOverhead = 16;  // glibc malloc's header and rounding, about

// The heap block of a std::string of `capacity` bytes: none while it fits
// the string's own small buffer.
[[nodiscard]] inline std::size_t string_heap(std::size_t capacity) noexcept {
  return capacity > std::string().capacity() ? capacity + 1 + kHeapBlockOverhead : 0;
}

// A row of `values` Values: its slot in the result's vector of rows and
// its own block; the strings' blocks (string_heap) come on top.
[[nodiscard]] inline std::size_t row_memory(std::size_t values) noexcept {
  return sizeof(std::vector<Value>) + (values > 0 ? values * sizeof(Value) + kHeapBlockOverhead : 0);
}

}  // namespace airssys::daemoneye::detail
