#pragma once
// ScanAssembler — puts a collection back together from its snapshot chunks.
//
// procmond sends one collection as chunks seq 0..n-1 of one scan_id, the
// final one flagged `last`. A chunk that does not continue the collection in
// progress (a gap, another scan_id, a procmond that restarted mid-scan)
// discards what was gathered: that collection is counted as incomplete and
// never half-stored. Not thread-safe.

#include <airssys/daemoneye/events.hpp>

#include <cstdint>
#include <optional>
#include <vector>

namespace airssys::daemoneye {

struct Collection {
  std::uint64_t scan_id = 0;
  std::int64_t time = 0;
  std::uint32_t unreadable = 0;
  std::uint64_t collect_us = 0;
  std::vector<ProcessRecord> processes;
  std::vector<osl::proc::OpenSocket> sockets;  // process_open_sockets rows
  std::vector<MemoryMapRow> memory_maps;       // process_memory_map rows
  // The users / groups tables whole, when the collection carried them
  // (SnapshotChunk::has_users); nullopt: leave the table as it is.
  std::optional<std::vector<UserAccount>> users;
  std::optional<std::vector<GroupAccount>> groups;
};

class ScanAssembler {
 public:
  // The complete collection when `chunk` finished one.
  [[nodiscard]] std::optional<Collection> add(SnapshotChunk chunk);
  [[nodiscard]] std::uint64_t incomplete() const noexcept { return incomplete_; }

 private:
  bool active_ = false;
  std::uint64_t scan_id_ = 0;
  std::uint32_t next_seq_ = 0;
  Collection partial_;
  std::uint64_t incomplete_ = 0;
};

}  // namespace airssys::daemoneye
