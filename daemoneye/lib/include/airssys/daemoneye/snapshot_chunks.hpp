#pragma once
// Splitting one collection into events.process.snapshot chunks that each
// fit one bus frame.
//
// The bus refuses frames over 1 MiB; a chunk aims at max_bytes (default
// 512 KiB) of encoded JSON, leaving room for the frame header. The size is
// bounded, not guessed: encoded_size_bound() counts every string at its
// worst JSON escaping (control bytes ×6, quote and backslash ×2, invalid
// UTF-8 ×3) and every number at its widest, so encode(chunk).size() never
// exceeds max_bytes. One record always fits because cap_for_wire() first
// cuts cmdline to 32 KiB and every other text field to 4 KiB (at a UTF-8
// character boundary): at worst about 430 KiB.
//
// Thread safety: pure functions.

#include <airssys/daemoneye/events.hpp>
#include <airssys/daemoneye/process_record.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace airssys::daemoneye {

inline constexpr std::size_t kSnapshotChunkBytes = 512 * 1024;
inline constexpr std::size_t kWireCmdlineMax = 32 * 1024;
inline constexpr std::size_t kWireFieldMax = 4 * 1024;

// Cuts cmdline to kWireCmdlineMax and the other text fields to kWireFieldMax
// bytes, never inside a UTF-8 sequence.
void cap_for_wire(ProcessRecord& r);
// Cuts `s` to at most `max` bytes, backing off to the start of a UTF-8 sequence.
void truncate_utf8(std::string& s, std::size_t max);

// An upper bound of the bytes one record adds to an encoded chunk (its
// object and the separating comma).
[[nodiscard]] std::size_t encoded_size_bound(const ProcessRecord& r);

struct SnapshotHeader {
  std::uint64_t scan_id = 0;
  std::int64_t time = 0;
  std::uint32_t unreadable = 0;
  std::uint64_t collect_us = 0;
};

// Cuts a socket row's text fields (path, addresses, state) to kWireFieldMax.
void cap_for_wire(osl::proc::OpenSocket& s);
// An upper bound of the bytes one socket row adds to an encoded chunk.
[[nodiscard]] std::size_t encoded_size_bound(const osl::proc::OpenSocket& s);

// Cuts a process_memory_map row's text fields to kWireFieldMax.
void cap_for_wire(MemoryMapRow& m);
// An upper bound of the bytes one process_memory_map row adds to an encoded chunk.
[[nodiscard]] std::size_t encoded_size_bound(const MemoryMapRow& m);

// Cuts an account's text fields to kWireFieldMax.
void cap_for_wire(UserAccount& u);
void cap_for_wire(GroupAccount& g);
// Upper bounds of the bytes one account row adds to an encoded chunk.
[[nodiscard]] std::size_t encoded_size_bound(const UserAccount& u);
[[nodiscard]] std::size_t encoded_size_bound(const GroupAccount& g);

// The host's accounts a collection carries (nullopt: not read yet, so the
// chunks do not say has_users / has_groups).
struct SnapshotAccounts {
  std::optional<std::vector<UserAccount>> users;
  std::optional<std::vector<GroupAccount>> groups;
};

// The chunks of one collection, in order: seq 0..n-1, `last` on the final
// one, total = processes.size() on each. No processes → one empty chunk.
// Records are capped (cap_for_wire) on the way. A record that alone exceeds
// max_bytes (possible only with max_bytes under ~430 KiB) gets a chunk of
// its own. The socket rows follow the processes, then the memory map rows,
// the users and the groups, under the same bound.
[[nodiscard]] std::vector<SnapshotChunk> make_snapshot_chunks(std::vector<ProcessRecord> processes,
                                                              const SnapshotHeader& header,
                                                              std::size_t max_bytes = kSnapshotChunkBytes,
                                                              std::vector<osl::proc::OpenSocket> sockets = {},
                                                              SnapshotAccounts accounts = {},
                                                              std::vector<MemoryMapRow> memory_maps = {});

}  // namespace airssys::daemoneye
