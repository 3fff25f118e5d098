#include <airssys/daemoneye/scan_assembler.hpp>

#include <algorithm>
#include <iterator>
#include <utility>

namespace airssys::daemoneye {

std::optional<Collection> ScanAssembler::add(SnapshotChunk chunk) {
  const bool continues = active_ && chunk.scan_id == scan_id_ && chunk.seq == next_seq_;
  if (!continues) {
    if (active_) ++incomplete_;  // what we had can never be completed
    active_ = false;
    partial_ = Collection{};
    if (chunk.seq != 0) {  // joined mid-collection: wait for the next one
      ++incomplete_;
      return std::nullopt;
    }
    active_ = true;
    scan_id_ = chunk.scan_id;
    next_seq_ = 0;
    partial_.scan_id = chunk.scan_id;
    partial_.time = chunk.time;
    // `total` comes off the wire: a hint, capped so a bad value cannot make
    // this allocation throw.
    partial_.processes.reserve(std::min<std::uint32_t>(chunk.total, 1u << 20));
  }
  partial_.unreadable = chunk.unreadable;
  partial_.collect_us = chunk.collect_us;
  partial_.processes.insert(partial_.processes.end(), std::make_move_iterator(chunk.processes.begin()),
                            std::make_move_iterator(chunk.processes.end()));
  partial_.sockets.insert(partial_.sockets.end(), std::make_move_iterator(chunk.sockets.begin()),
                          std::make_move_iterator(chunk.sockets.end()));
  partial_.memory_maps.insert(partial_.memory_maps.end(), std::make_move_iterator(chunk.memory_maps.begin()),
                              std::make_move_iterator(chunk.memory_maps.end()));
  const auto take = [](auto& into, bool has, auto& rows) {
    if (!has) return;
    if (!into) into.emplace();
    into->insert(into->end(), std::make_move_iterator(rows.begin()), std::make_move_iterator(rows.end()));
  };
  take(partial_.users, chunk.has_users, chunk.users);
  take(partial_.groups, chunk.has_groups, chunk.groups);
  ++next_seq_;
  if (!chunk.last) return std::nullopt;
  active_ = false;
  return std::exchange(partial_, Collection{});
}

}  // namespace airssys::daemoneye
