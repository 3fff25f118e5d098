#include <airssys/ledger/ledger.hpp>

#include "fd.hpp"
#include "format.hpp"
#include "tree_math.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <set>

#include <fmt/format.h>

namespace airssys::ledger {

using namespace detail;

namespace {

Hasher& reader_hasher() {
  thread_local Hasher h;
  return h;
}

// Perfect subtrees along the right edge of a tree, left to right.
struct Frontier {
  std::vector<std::pair<unsigned, Hash>> nodes;

  // Pushes a leaf; calls emit(hash) for the leaf and each node it completes.
  template <class Emit>
  void push(const Hash& leaf, Hasher& h, Emit&& emit) {
    nodes.emplace_back(0u, leaf);
    emit(leaf);
    while (nodes.size() >= 2 && nodes[nodes.size() - 1].first == nodes[nodes.size() - 2].first) {
      const Hash right = nodes.back().second;
      nodes.pop_back();
      nodes.back().second = h.node(nodes.back().second, right);
      nodes.back().first += 1;
      emit(nodes.back().second);
    }
  }
  [[nodiscard]] Hash root(Hasher& h) const {
    if (nodes.empty()) return empty_tree_hash();
    Hash acc = nodes.back().second;
    for (std::size_t i = nodes.size() - 1; i-- > 0;) acc = h.node(nodes[i].second, acc);
    return acc;
  }
};

struct Queue {
  std::vector<std::uint8_t> records;  // encoded: u32 length | payload, back to back
  std::vector<std::uint32_t> lengths;
  std::vector<Hash> leaves;
  void clear() {
    records.clear();
    lengths.clear();
    leaves.clear();
  }
};

}  // namespace

struct Ledger::Impl {
  std::filesystem::path dir;
  bool read_only = false;
  UniqueFd dirfd, lock_fd, head_fd, entries_fd, offsets_fd, tree_fd;
  Mapping tree_map;  // the tree file as it was at open; newer nodes are pread
  std::vector<std::string> warnings;

  // Committed state for readers.
  std::atomic<std::uint64_t> committed{0};
  mutable std::mutex root_mu;
  Hash committed_root{};

  // Writer state, touched only by the current group-commit leader.
  Frontier frontier;
  std::uint64_t entries_end = 0;
  Hasher writer_hasher;

  // Group commit.
  std::mutex mu;
  std::condition_variable cv;
  Queue queue;
  std::uint64_t assigned = 0;  // next index to hand out
  std::uint64_t durable = 0;   // == committed, under mu
  bool leader_active = false;
  std::uint64_t epoch = 0;                 // bumped when a group fails
  std::vector<std::uint64_t> epoch_end;    // durable size when epoch e ended
  Error last_error;
  bool poisoned = false;  // the head may be ahead of what we know; reopen

  [[nodiscard]] std::string path_of(const char* name) const { return (dir / name).string(); }

  Result<Hash> node(unsigned level, std::uint64_t index) const {
    const std::uint64_t off = postorder_pos(level, index) * kHashSize;
    Hash h;
    if (off + kHashSize <= tree_map.size()) {
      std::memcpy(h.data(), tree_map.data() + off, kHashSize);
      return h;
    }
    if (auto r = pread_exact(tree_fd.get(), h.data(), kHashSize, off, path_of(kTreeFile)); !r)
      return std::unexpected(std::move(r.error()));
    return h;
  }

  auto walker() const {
    return TreeWalker([this](unsigned level, std::uint64_t index) { return node(level, index); }, reader_hasher());
  }

  Result<std::uint64_t> read_offset(std::uint64_t i) const {
    std::uint8_t b[8];
    if (auto r = pread_exact(offsets_fd.get(), b, 8, i * 8, path_of(kOffsetsFile)); !r)
      return std::unexpected(std::move(r.error()));
    return get_u64(b);
  }

  Result<void> write_group(const Queue& q, std::uint64_t n0);
  Result<void> recover(const HeadRecord& head);
};

Result<void> Ledger::Impl::recover(const HeadRecord& head) {
  const std::uint64_t n = head.size;
  auto entries_len = file_size(entries_fd.get(), path_of(kEntriesFile));
  auto offsets_len = file_size(offsets_fd.get(), path_of(kOffsetsFile));
  auto tree_len = file_size(tree_fd.get(), path_of(kTreeFile));
  if (!entries_len) return std::unexpected(entries_len.error());
  if (!offsets_len) return std::unexpected(offsets_len.error());
  if (!tree_len) return std::unexpected(tree_len.error());

  const std::uint64_t want_offsets = n * 8, want_tree = node_count(n) * kHashSize;
  if (*offsets_len < want_offsets)
    return fail(ErrorCategory::corrupt,
                fmt::format("{}: head commits {} entries but offsets holds only {} (truncated file?); run verify",
                            dir.string(), n, *offsets_len / 8));
  if (*tree_len < want_tree)
    return fail(ErrorCategory::corrupt,
                fmt::format("{}: head commits {} entries but the tree file is {} bytes short (truncated file?); run verify",
                            dir.string(), n, want_tree - *tree_len));
  std::uint64_t want_entries = 0;
  if (n > 0) {
    auto end = read_offset(n - 1);
    if (!end) return std::unexpected(end.error());
    want_entries = *end;
  }
  if (*entries_len < want_entries)
    return fail(ErrorCategory::corrupt,
                fmt::format("{}: entries file is {} bytes, the committed entries need {} (truncated file?); run verify",
                            dir.string(), *entries_len, want_entries));

  const std::uint64_t torn =
      (*entries_len - want_entries) + (*offsets_len - want_offsets) + (*tree_len - want_tree);
  if (torn > 0) {
    const std::uint64_t extra_entries = (*offsets_len - want_offsets) / 8;
    if (read_only) {
      warnings.push_back(fmt::format(
          "{}: ignoring {} uncommitted bytes (about {} entries) beyond the committed size {}: a torn write from "
          "a crash, or a writer is appending; the next writer truncates them",
          dir.string(), torn, extra_entries, n));
    } else {
      for (auto [fd, len, name] : {std::tuple{entries_fd.get(), want_entries, kEntriesFile},
                                   std::tuple{offsets_fd.get(), want_offsets, kOffsetsFile},
                                   std::tuple{tree_fd.get(), want_tree, kTreeFile}}) {
        if (auto r = truncate_to(fd, len, path_of(name)); !r) return r;
        if (auto r = sync_all(fd, path_of(name)); !r) return r;
      }
      warnings.push_back(fmt::format(
          "{}: truncated a torn tail of {} bytes (about {} uncommitted entries, never acknowledged) back to the "
          "last committed entry, index {}",
          dir.string(), torn, extra_entries, n == 0 ? std::string("none") : std::to_string(n - 1)));
    }
  }
  entries_end = want_entries;

  auto map = Mapping::map(tree_fd.get(), want_tree, path_of(kTreeFile));
  if (!map) return std::unexpected(map.error());
  tree_map = std::move(*map);

  // Right-edge perfect subtrees: one per set bit of n.
  std::uint64_t start = 0;
  for (int b = 63; b >= 0; --b) {
    const std::uint64_t bit = std::uint64_t{1} << b;
    if ((n & bit) == 0) continue;
    auto h = node(static_cast<unsigned>(b), start >> b);
    if (!h) return std::unexpected(h.error());
    frontier.nodes.emplace_back(static_cast<unsigned>(b), *h);
    start += bit;
  }
  if (frontier.root(writer_hasher) != head.root)
    return fail(ErrorCategory::corrupt,
                fmt::format("{}: the stored tree does not lead to the committed root (tampered?); run verify",
                            dir.string()));
  committed_root = head.root;
  committed.store(n, std::memory_order_release);
  durable = assigned = n;
  return {};
}

Result<std::unique_ptr<Ledger>> Ledger::open(const std::filesystem::path& dir, OpenOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->dir = dir;
  impl->read_only = options.read_only;
  auto dfd = open_dir(dir);
  if (!dfd) return std::unexpected(dfd.error());
  impl->dirfd = std::move(*dfd);
  const int dirfd = impl->dirfd.get();

  if (!impl->read_only) {
    auto lk = open_file_at(dirfd, kLockFile, O_RDWR | O_CREAT, impl->path_of(kLockFile));
    if (!lk) return std::unexpected(lk.error());
    if (::flock(lk->get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno == EWOULDBLOCK)
        return fail(ErrorCategory::busy, fmt::format("{}: another process has this ledger open for writing", dir.string()));
      return std::unexpected(Error::from_errno(errno, "lock " + impl->path_of(kLockFile)));
    }
    impl->lock_fd = std::move(*lk);
  }

  auto head = read_head(dirfd, impl->writer_hasher);
  if (!head) {
    if (head.error().category == ErrorCategory::not_found)
      return fail(ErrorCategory::not_found, fmt::format("{} is not a ledger (no head file; run init)", dir.string()));
    head.error().message = fmt::format("{}: {}", dir.string(), head.error().message);
    return std::unexpected(head.error());
  }
  const int mode = impl->read_only ? O_RDONLY : O_RDWR;
  for (auto [slot, name] : {std::pair{&impl->head_fd, kHeadFile}, std::pair{&impl->entries_fd, kEntriesFile},
                            std::pair{&impl->offsets_fd, kOffsetsFile}, std::pair{&impl->tree_fd, kTreeFile}}) {
    auto fd = open_file_at(dirfd, name, mode, impl->path_of(name));
    if (!fd) return std::unexpected(fd.error());
    *slot = std::move(*fd);
  }
  if (auto r = impl->recover(*head); !r) return std::unexpected(r.error());
  return std::unique_ptr<Ledger>(new Ledger(std::move(impl)));
}

Result<std::unique_ptr<Ledger>> Ledger::create(const std::filesystem::path& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return std::unexpected(Error::from_errno(errno, "create directory " + dir.string()));
  auto dfd = open_dir(dir);
  if (!dfd) return std::unexpected(dfd.error());
  const int dirfd = dfd->get();
  struct stat st {};
  const auto holds_a_ledger = [&] { return ::fstatat(dirfd, kHeadFile, &st, AT_SYMLINK_NOFOLLOW) == 0; };
  if (holds_a_ledger()) return fail(ErrorCategory::already_exists, fmt::format("{} already holds a ledger", dir.string()));
  // The writer lock while the files are made, and the head looked for again
  // under it: of two processes creating one ledger at once, the second
  // either finds it busy or finds the head - it never truncates the files
  // the first has made and is writing to. Released before open() takes it
  // for good (flock locks of two descriptors conflict, even in one process).
  auto lock = open_file_at(dirfd, kLockFile, O_RDWR | O_CREAT, (dir / kLockFile).string());
  if (!lock) return std::unexpected(lock.error());
  if (::flock(lock->get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK)
      return fail(ErrorCategory::busy, fmt::format("{}: another process has this ledger open for writing", dir.string()));
    return std::unexpected(Error::from_errno(errno, "lock " + (dir / kLockFile).string()));
  }
  if (holds_a_ledger()) return fail(ErrorCategory::already_exists, fmt::format("{} already holds a ledger", dir.string()));
  // Only an empty directory, or the leftovers of an init that crashed before
  // writing `head`, may become a ledger.
  static const std::set<std::string> ours = {kEntriesFile, kOffsetsFile, kTreeFile, kLockFile};
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (ours.count(e.path().filename().string()) == 0)
      return fail(ErrorCategory::invalid_argument,
                  fmt::format("{} is not empty ({} is there); init needs an empty or new directory", dir.string(),
                              e.path().filename().string()));
  }
  if (ec) return std::unexpected(Error::from_errno(ec.value(), "list " + dir.string()));

  for (const char* name : {kEntriesFile, kOffsetsFile, kTreeFile}) {
    auto fd = open_file_at(dirfd, name, O_RDWR | O_CREAT | O_TRUNC, (dir / name).string());
    if (!fd) return std::unexpected(fd.error());
    if (auto r = sync_all(fd->get(), (dir / name).string()); !r) return std::unexpected(r.error());
  }
  Hasher hasher;
  const auto head = encode_head(HeadRecord{0, empty_tree_hash()}, hasher);
  {
    auto fd = open_file_at(dirfd, kHeadFile, O_RDWR | O_CREAT | O_EXCL, (dir / kHeadFile).string());
    if (!fd) return std::unexpected(fd.error());
    if (auto r = pwrite_all(fd->get(), head.data(), head.size(), 0, "head"); !r) return std::unexpected(r.error());
    if (auto r = sync_all(fd->get(), "head"); !r) return std::unexpected(r.error());
  }
  if (auto r = sync_all(dirfd, dir.string()); !r) return std::unexpected(r.error());
  lock->reset();
  return open(dir);
}

Ledger::Ledger(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Ledger::~Ledger() = default;

Result<void> Ledger::Impl::write_group(const Queue& q, std::uint64_t n0) {
  const std::uint64_t count = q.leaves.size();
  const std::uint64_t old_entries_end = entries_end, old_offsets_len = n0 * 8,
                      old_tree_len = node_count(n0) * kHashSize;

  std::vector<std::uint8_t> offsets(count * 8);
  std::uint64_t end = entries_end;
  for (std::uint64_t i = 0; i < count; ++i) {
    end += kRecordHeader + q.lengths[i];
    put_u64(offsets.data() + i * 8, end);
  }
  Frontier next = frontier;
  std::vector<std::uint8_t> nodes;
  nodes.reserve((node_count(n0 + count) - node_count(n0)) * kHashSize);
  for (const Hash& leaf : q.leaves)
    next.push(leaf, writer_hasher, [&](const Hash& h) { nodes.insert(nodes.end(), h.begin(), h.end()); });

  auto undo = [&](Error e) -> Result<void> {
    // Nothing was committed: put the files back to the committed lengths so
    // the next group writes in the right place (open would truncate anyway).
    (void)truncate_to(entries_fd.get(), old_entries_end, "");
    (void)truncate_to(offsets_fd.get(), old_offsets_len, "");
    (void)truncate_to(tree_fd.get(), old_tree_len, "");
    return std::unexpected(std::move(e));
  };
  if (auto r = pwrite_all(entries_fd.get(), q.records.data(), q.records.size(), old_entries_end, path_of(kEntriesFile)); !r)
    return undo(r.error());
  if (auto r = pwrite_all(offsets_fd.get(), offsets.data(), offsets.size(), old_offsets_len, path_of(kOffsetsFile)); !r)
    return undo(r.error());
  if (auto r = pwrite_all(tree_fd.get(), nodes.data(), nodes.size(), old_tree_len, path_of(kTreeFile)); !r)
    return undo(r.error());
  for (auto [fd, name] : {std::pair{entries_fd.get(), kEntriesFile}, std::pair{offsets_fd.get(), kOffsetsFile},
                          std::pair{tree_fd.get(), kTreeFile}}) {
    if (auto r = sync_data(fd, path_of(name)); !r) return undo(r.error());
  }

  const Hash new_root = next.root(writer_hasher);
  const auto head = encode_head(HeadRecord{n0 + count, new_root}, writer_hasher);
  // From here a failure leaves the head in an unknown state: poison (see append_batch).
  if (auto r = pwrite_all(head_fd.get(), head.data(), head.size(), 0, path_of(kHeadFile)); !r) {
    poisoned = true;
    return r;
  }
  if (auto r = sync_data(head_fd.get(), path_of(kHeadFile)); !r) {
    poisoned = true;
    return r;
  }
  frontier = std::move(next);
  entries_end = end;
  {
    // Both under root_mu: head() reads the pair there.
    std::lock_guard lk(root_mu);
    committed_root = new_root;
    committed.store(n0 + count, std::memory_order_release);
  }
  return {};
}

Result<std::uint64_t> Ledger::append(ByteView entry) { return append_batch(std::span<const ByteView>(&entry, 1)); }

Result<std::uint64_t> Ledger::append_batch(std::span<const ByteView> entries) {
  Impl& m = *impl_;
  if (m.read_only) return fail(ErrorCategory::invalid_argument, "ledger was opened read-only");
  if (entries.empty()) return fail(ErrorCategory::invalid_argument, "append_batch needs at least one entry");
  // Hash outside the lock: concurrent appenders hash in parallel.
  std::vector<Hash> leaves;
  leaves.reserve(entries.size());
  std::size_t bytes = 0;
  Hasher& h = reader_hasher();
  for (const ByteView& e : entries) {
    if (e.size() > kMaxEntrySize)
      return fail(ErrorCategory::invalid_argument, fmt::format("entry of {} bytes exceeds the 1 GiB limit", e.size()));
    leaves.push_back(h.leaf(e));
    bytes += kRecordHeader + e.size();
  }

  std::unique_lock lk(m.mu);
  if (m.poisoned) return std::unexpected(m.last_error);
  const std::uint64_t first = m.assigned;
  m.assigned += entries.size();
  const std::uint64_t target = m.assigned;
  const std::uint64_t my_epoch = m.epoch;
  m.queue.records.reserve(m.queue.records.size() + bytes);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    std::uint8_t len[4];
    put_u32(len, static_cast<std::uint32_t>(entries[i].size()));
    m.queue.records.insert(m.queue.records.end(), len, len + 4);
    m.queue.records.insert(m.queue.records.end(), entries[i].begin(), entries[i].end());
    m.queue.lengths.push_back(static_cast<std::uint32_t>(entries[i].size()));
    m.queue.leaves.push_back(leaves[i]);
  }

  for (;;) {
    if (my_epoch != m.epoch) {
      if (target <= m.epoch_end[my_epoch]) return first;
      return std::unexpected(m.last_error);
    }
    if (m.durable >= target) return first;
    if (m.poisoned) return std::unexpected(m.last_error);
    if (!m.leader_active) {
      m.leader_active = true;
      Queue group;
      std::swap(group, m.queue);
      const std::uint64_t n0 = m.durable;
      lk.unlock();
      auto r = m.write_group(group, n0);
      lk.lock();
      m.leader_active = false;
      if (r) {
        m.durable = n0 + group.leaves.size();
      } else {
        // Everything not yet durable fails: this group and whatever queued behind it.
        m.last_error = r.error();
        m.epoch_end.resize(m.epoch + 1, 0);
        m.epoch_end[m.epoch] = m.durable;
        ++m.epoch;
        m.assigned = m.durable;
        m.queue.clear();
      }
      m.cv.notify_all();
      continue;
    }
    m.cv.wait(lk);
  }
}

std::uint64_t Ledger::size() const noexcept { return impl_->committed.load(std::memory_order_acquire); }

Hash Ledger::root() const {
  std::lock_guard lk(impl_->root_mu);
  return impl_->committed_root;
}

Ledger::Head Ledger::head() const {
  std::lock_guard lk(impl_->root_mu);
  return Head{impl_->committed.load(std::memory_order_relaxed), impl_->committed_root};
}

Result<Hash> Ledger::root(std::uint64_t tree_size) const {
  const std::uint64_t n = size();
  if (tree_size > n)
    return fail(ErrorCategory::out_of_range, fmt::format("size {} is beyond the ledger's {} entries", tree_size, n));
  // The committed root only when it is the root at tree_size: an append
  // between size() above and here has moved it on.
  if (tree_size == n)
    if (const Head h = head(); h.size == tree_size) return h.root;
  return impl_->walker().root(tree_size);
}

Result<std::vector<Hash>> Ledger::inclusion_proof(std::uint64_t index, std::uint64_t tree_size) const {
  const std::uint64_t n = size();
  if (tree_size > n)
    return fail(ErrorCategory::out_of_range, fmt::format("size {} is beyond the ledger's {} entries", tree_size, n));
  if (index >= tree_size)
    return fail(ErrorCategory::out_of_range, fmt::format("index {} is not below tree size {}", index, tree_size));
  return impl_->walker().inclusion(index, tree_size);
}

Result<std::vector<Hash>> Ledger::consistency_proof(std::uint64_t size1, std::uint64_t size2) const {
  const std::uint64_t n = size();
  if (size2 > n)
    return fail(ErrorCategory::out_of_range, fmt::format("size {} is beyond the ledger's {} entries", size2, n));
  if (size1 > size2)
    return fail(ErrorCategory::out_of_range, fmt::format("size {} is larger than size {}", size1, size2));
  if (size1 == 0 || size1 == size2) return std::vector<Hash>{};
  return impl_->walker().consistency(size1, size2);
}

Result<std::vector<std::uint8_t>> Ledger::entry(std::uint64_t index) const {
  const std::uint64_t n = size();
  if (index >= n) return fail(ErrorCategory::out_of_range, fmt::format("index {} is not below size {}", index, n));
  std::uint64_t start = 0;
  if (index > 0) {
    auto s = impl_->read_offset(index - 1);
    if (!s) return std::unexpected(s.error());
    start = *s;
  }
  auto end = impl_->read_offset(index);
  if (!end) return std::unexpected(end.error());
  if (*end < start + kRecordHeader || *end - start - kRecordHeader > kMaxEntrySize)
    return fail(ErrorCategory::corrupt, fmt::format("offsets of entry {} are inconsistent; run verify", index));
  // A damaged offset must not make us allocate up to 1 GiB for bytes that
  // are not there (the entry fuzzer found this).
  auto entries_len = file_size(impl_->entries_fd.get(), impl_->path_of(kEntriesFile));
  if (!entries_len) return std::unexpected(entries_len.error());
  if (*end > *entries_len)
    return fail(ErrorCategory::corrupt, fmt::format("entry {} ends past the end of the entries file; run verify", index));
  std::vector<std::uint8_t> rec(*end - start);
  if (auto r = pread_exact(impl_->entries_fd.get(), rec.data(), rec.size(), start, impl_->path_of(kEntriesFile)); !r)
    return std::unexpected(r.error());
  if (get_u32(rec.data()) != rec.size() - kRecordHeader)
    return fail(ErrorCategory::corrupt, fmt::format("length of entry {} disagrees with its offsets; run verify", index));
  rec.erase(rec.begin(), rec.begin() + kRecordHeader);
  return rec;
}

Result<Hash> Ledger::leaf_hash(std::uint64_t index) const {
  const std::uint64_t n = size();
  if (index >= n) return fail(ErrorCategory::out_of_range, fmt::format("index {} is not below size {}", index, n));
  return impl_->node(0, index);
}

const std::vector<std::string>& Ledger::warnings() const noexcept { return impl_->warnings; }
const std::filesystem::path& Ledger::dir() const noexcept { return impl_->dir; }
bool Ledger::read_only() const noexcept { return impl_->read_only; }

}  // namespace airssys::ledger
