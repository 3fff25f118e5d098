#include <airssys/daemoneye/snapshot_chunks.hpp>

#include <algorithm>
#include <limits>

namespace airssys::daemoneye {

namespace {

// Bytes `s` can take inside a JSON string (nlohmann, ensure_ascii off,
// invalid UTF-8 replaced by U+FFFD).
std::size_t escaped_bound(std::string_view s) noexcept {
  std::size_t n = 0;
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') n += 2;
    else if (c < 0x20) n += 6;
    else if (c >= 0x80) n += 3;
    else n += 1;
  }
  return n;
}

// Encoded bytes of a record with empty strings and the widest numbers, and of
// a chunk with the widest header and no records: measured once with the real
// encoder, so a change to the wire format cannot make the bound wrong.
struct Widths {
  std::size_t record = 0;
  std::size_t chunk = 0;
  std::size_t socket = 0;     // one socket row with empty strings, and its comma
  std::size_t sockets = 0;    // the "sockets":[] key of a chunk that has any
  std::size_t map = 0, maps = 0;      // the same for process_memory_map rows
  std::size_t user = 0, users = 0;    // the same for account rows
  std::size_t group = 0, groups = 0;
};

// What one more row of a kind adds to a chunk: `one` is the encoded chunk
// with a row of it, `two` with two. Sets the row's width (with its comma)
// and the key's.
void row_widths(std::size_t chunk, std::size_t one, std::size_t two, std::size_t& row, std::size_t& key) {
  row = two - one;
  key = one - chunk - (row - 1);
}

const Widths& widths() {
  static const Widths w = [] {
    constexpr auto i64 = std::numeric_limits<std::int64_t>::min();
    constexpr auto u64 = std::numeric_limits<std::uint64_t>::max();
    ProcessRecord r;
    for (std::int64_t* f : {&r.pid, &r.parent, &r.pgroup, &r.sid, &r.uid, &r.gid, &r.euid, &r.egid, &r.suid, &r.sgid,
                            &r.auid, &r.threads, &r.nice, &r.start_time, &r.user_time, &r.system_time,
                            &r.resident_size, &r.total_size, &r.disk_bytes_read, &r.disk_bytes_written}) {
      *f = i64;
    }
    r.on_disk = r.root_is_host = r.host_on_disk = std::numeric_limits<int>::min();
    r.cpu_percent = -1.2345678901234567e-300;
    r.start_ticks = r.exe_dev = r.exe_ino = u64;
    r.partial = false;  // "false" is longer than "true"
    SnapshotChunk c{.scan_id = u64, .seq = std::numeric_limits<std::uint32_t>::max(), .last = false,
                    .time = i64, .total = std::numeric_limits<std::uint32_t>::max(),
                    .unreadable = std::numeric_limits<std::uint32_t>::max(), .collect_us = u64};
    c.has_users = c.has_groups = true;  // written only when true
    Widths out;
    out.chunk = encode(c).size();
    c.processes.push_back(r);
    out.record = encode(c).size() - out.chunk + 1;  // + the comma before a following record
    c.processes.clear();
    osl::proc::OpenSocket s;
    s.pid = s.fd = std::numeric_limits<std::int32_t>::min();
    s.entry.family = s.entry.protocol = s.entry.local_port = s.entry.remote_port = std::numeric_limits<int>::min();
    s.entry.inode = s.net_namespace = u64;
    c.sockets.push_back(s);
    const std::size_t one = encode(c).size();
    c.sockets.push_back(s);
    out.socket = encode(c).size() - one;  // a row and its comma
    out.sockets = one - out.chunk - (out.socket - 1);
    c.sockets.clear();
    const MemoryMapRow mr{.pid = std::numeric_limits<std::int32_t>::min(), .offset = i64, .inode = i64,
                          .pseudo = std::numeric_limits<std::int32_t>::min()};
    c.memory_maps = {mr};
    const std::size_t m1 = encode(c).size();
    c.memory_maps.push_back(mr);
    row_widths(out.chunk, m1, encode(c).size(), out.map, out.maps);
    c.memory_maps.clear();
    const UserAccount u{.uid = i64, .gid = i64};  // wider than any id (0..2^32-1)
    c.users = {u};
    const std::size_t u1 = encode(c).size();
    c.users.push_back(u);
    row_widths(out.chunk, u1, encode(c).size(), out.user, out.users);
    c.users.clear();
    const GroupAccount g{.gid = i64};
    c.groups = {g};
    const std::size_t g1 = encode(c).size();
    c.groups.push_back(g);
    row_widths(out.chunk, g1, encode(c).size(), out.group, out.groups);
    return out;
  }();
  return w;
}

}  // namespace

void truncate_utf8(std::string& s, std::size_t max) {
  if (s.size() <= max) return;
  std::size_t cut = max;
  // Back off over continuation bytes (10xxxxxx) to the sequence's lead byte.
  for (int i = 0; i < 3 && cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80; ++i) --cut;
  s.resize(cut);
}

void cap_for_wire(ProcessRecord& r) {
  truncate_utf8(r.cmdline, kWireCmdlineMax);
  for (std::string* f : {&r.name, &r.path, &r.cwd, &r.root, &r.username, &r.state, &r.cgroup_path, &r.tty, &r.sha256,
                         &r.container_id}) {
    truncate_utf8(*f, kWireFieldMax);
  }
}

std::size_t encoded_size_bound(const ProcessRecord& r) {
  std::size_t n = widths().record;
  for (const std::string* f : {&r.name, &r.path, &r.cmdline, &r.cwd, &r.root, &r.username, &r.state, &r.cgroup_path,
                               &r.tty, &r.sha256, &r.container_id}) {
    n += escaped_bound(*f);
  }
  return n;
}

void cap_for_wire(osl::proc::OpenSocket& s) {
  for (std::string* f : {&s.entry.local_address, &s.entry.remote_address, &s.entry.path, &s.entry.state}) {
    truncate_utf8(*f, kWireFieldMax);
  }
}

std::size_t encoded_size_bound(const osl::proc::OpenSocket& s) {
  std::size_t n = widths().socket;
  for (const std::string* f : {&s.entry.local_address, &s.entry.remote_address, &s.entry.path, &s.entry.state}) {
    n += escaped_bound(*f);
  }
  return n;
}

void cap_for_wire(MemoryMapRow& m) {
  for (std::string* f : {&m.start, &m.end, &m.permissions, &m.device}) truncate_utf8(*f, kWireFieldMax);
  // The kernel's " (deleted)" is what library-from-tmp judges a deleted
  // library by: a path padded past the bound keeps it.
  constexpr std::string_view kDeleted = " (deleted)";
  const bool deleted = m.path.size() > kWireFieldMax && m.path.ends_with(kDeleted);
  truncate_utf8(m.path, kWireFieldMax - (deleted ? kDeleted.size() : 0));
  if (deleted) m.path += kDeleted;
}

std::size_t encoded_size_bound(const MemoryMapRow& m) {
  std::size_t n = widths().map;
  for (const std::string* f : {&m.start, &m.end, &m.permissions, &m.device, &m.path}) n += escaped_bound(*f);
  return n;
}

void cap_for_wire(UserAccount& u) {
  for (std::string* f : {&u.username, &u.description, &u.directory, &u.shell}) truncate_utf8(*f, kWireFieldMax);
}

void cap_for_wire(GroupAccount& g) { truncate_utf8(g.groupname, kWireFieldMax); }

std::size_t encoded_size_bound(const UserAccount& u) {
  std::size_t n = widths().user;
  for (const std::string* f : {&u.username, &u.description, &u.directory, &u.shell}) n += escaped_bound(*f);
  return n;
}

std::size_t encoded_size_bound(const GroupAccount& g) { return widths().group + escaped_bound(g.groupname); }

namespace {

bool holds_rows(const SnapshotChunk& c) {
  return !c.processes.empty() || !c.sockets.empty() || !c.memory_maps.empty() || !c.users.empty() ||
         !c.groups.empty();
}

// Appends `rows` to the chunks' `member` lists, a new chunk (from `fresh`)
// whenever the next row would pass max_bytes; `key` is the bytes of the
// list's key, which the first row of a chunk brings.
template <class Row, class Fresh>
void append_rows(std::vector<SnapshotChunk>& chunks, std::size_t& used, std::vector<Row>& rows,
                 std::vector<Row> SnapshotChunk::*member, std::size_t key, std::size_t max_bytes, const Fresh& fresh) {
  for (auto& row : rows) {
    cap_for_wire(row);
    SnapshotChunk& cur = chunks.back();
    const std::size_t need = encoded_size_bound(row) + ((cur.*member).empty() ? key : 0);
    if (holds_rows(cur) && used + need > max_bytes) {
      chunks.push_back(fresh(static_cast<std::uint32_t>(chunks.size())));
      used = widths().chunk + key + encoded_size_bound(row);
    } else {
      used += need;
    }
    (chunks.back().*member).push_back(std::move(row));
  }
}

}  // namespace

std::vector<SnapshotChunk> make_snapshot_chunks(std::vector<ProcessRecord> processes, const SnapshotHeader& header,
                                                std::size_t max_bytes, std::vector<osl::proc::OpenSocket> sockets,
                                                SnapshotAccounts accounts, std::vector<MemoryMapRow> memory_maps) {
  const auto total = static_cast<std::uint32_t>(processes.size());
  auto fresh = [&](std::uint32_t seq) {
    SnapshotChunk c{.scan_id = header.scan_id, .seq = seq, .last = false, .time = header.time, .total = total,
                    .unreadable = header.unreadable, .collect_us = header.collect_us, .processes = {}};
    c.has_users = accounts.users.has_value();
    c.has_groups = accounts.groups.has_value();
    return c;
  };
  std::vector<SnapshotChunk> chunks;
  chunks.push_back(fresh(0));
  std::size_t used = widths().chunk;
  for (auto& r : processes) {
    cap_for_wire(r);
    const std::size_t need = encoded_size_bound(r);
    if (!chunks.back().processes.empty() && used + need > max_bytes) {
      chunks.push_back(fresh(static_cast<std::uint32_t>(chunks.size())));
      used = widths().chunk;
    }
    used += need;
    chunks.back().processes.push_back(std::move(r));
  }
  append_rows(chunks, used, sockets, &SnapshotChunk::sockets, widths().sockets, max_bytes, fresh);
  append_rows(chunks, used, memory_maps, &SnapshotChunk::memory_maps, widths().maps, max_bytes, fresh);
  if (accounts.users) append_rows(chunks, used, *accounts.users, &SnapshotChunk::users, widths().users, max_bytes, fresh);
  if (accounts.groups)
    append_rows(chunks, used, *accounts.groups, &SnapshotChunk::groups, widths().groups, max_bytes, fresh);
  chunks.back().last = true;
  return chunks;
}

}  // namespace airssys::daemoneye
