#include <airssys/ledger/verify.hpp>

#include "fd.hpp"
#include "format.hpp"
#include "tree_math.hpp"

#include <fcntl.h>

#include <algorithm>
#include <cstring>
#include <map>

#include <fmt/format.h>

namespace airssys::ledger {

using namespace detail;

namespace {

// Sequential reader over a file with a large buffer; take(n) returns n
// contiguous bytes, or nullptr when the file ends first.
class SeqReader {
 public:
  SeqReader(int fd, std::string what, std::size_t chunk) : fd_(fd), what_(std::move(what)), buf_(chunk) {}

  Result<const std::uint8_t*> take(std::size_t n) {
    if (len_ - pos_ >= n) {
      const std::uint8_t* p = buf_.data() + pos_;
      pos_ += n;
      return p;
    }
    std::memmove(buf_.data(), buf_.data() + pos_, len_ - pos_);
    len_ -= pos_;
    pos_ = 0;
    if (buf_.size() < n) buf_.resize(std::max(n, 2 * buf_.size()));
    while (len_ < n) {
      auto r = pread_some(fd_, buf_.data() + len_, buf_.size() - len_, file_off_, what_);
      if (!r) return std::unexpected(r.error());
      if (*r == 0) return nullptr;
      len_ += *r;
      file_off_ += *r;
    }
    pos_ = n;
    return buf_.data();
  }

 private:
  int fd_;
  std::string what_;
  std::vector<std::uint8_t> buf_;
  std::size_t pos_ = 0, len_ = 0;
  std::uint64_t file_off_ = 0;
};

struct Scan {
  VerifyReport& report;
  void bad(std::optional<std::uint64_t> index, std::string problem) {
    if (!report.intact) return;  // keep the first problem
    report.intact = false;
    report.first_bad_index = index;
    report.problem = std::move(problem);
  }
};

}  // namespace

Result<VerifyReport> verify(const std::filesystem::path& dir, const VerifyOptions& options) {
  VerifyReport report;
  Scan scan{report};
  Hasher hasher;
  auto dfd = open_dir(dir);
  if (!dfd) return std::unexpected(dfd.error());
  const int dirfd = dfd->get();
  auto path_of = [&](const char* name) { return (dir / name).string(); };

  auto head = read_head(dirfd, hasher);
  if (!head) {
    if (head.error().category == ErrorCategory::not_found)
      return fail(ErrorCategory::not_found, fmt::format("{} is not a ledger (no head file)", dir.string()));
    if (head.error().category != ErrorCategory::corrupt) return std::unexpected(head.error());
    scan.bad(std::nullopt, head.error().message);
    return report;
  }
  const std::uint64_t n = head->size;
  report.size = n;

  UniqueFd entries_fd, offsets_fd, tree_fd;
  for (auto [slot, name] : {std::pair{&entries_fd, kEntriesFile}, std::pair{&offsets_fd, kOffsetsFile},
                            std::pair{&tree_fd, kTreeFile}}) {
    auto fd = open_file_at(dirfd, name, O_RDONLY, path_of(name));
    if (!fd) {
      if (fd.error().category == ErrorCategory::not_found || fd.error().category == ErrorCategory::corrupt) {
        scan.bad(n == 0 ? std::nullopt : std::optional<std::uint64_t>(0), fmt::format("{}: {}", name, fd.error().message));
        return report;
      }
      return std::unexpected(fd.error());
    }
    *slot = std::move(*fd);
  }
  auto entries_len = file_size(entries_fd.get(), path_of(kEntriesFile));
  auto offsets_len = file_size(offsets_fd.get(), path_of(kOffsetsFile));
  auto tree_len = file_size(tree_fd.get(), path_of(kTreeFile));
  if (!entries_len || !offsets_len || !tree_len)
    return std::unexpected(!entries_len ? entries_len.error() : !offsets_len ? offsets_len.error() : tree_len.error());

  // Checkpoints first, so the scan can note the root at each checkpointed size.
  std::vector<SignedTreeHead> checkpoints;
  std::map<std::uint64_t, Hash> roots_at;  // size -> recomputed root
  if (auto cps = read_checkpoints(dir); !cps) {
    if (cps.error().category != ErrorCategory::corrupt) return std::unexpected(cps.error());
    scan.bad(std::nullopt, cps.error().message);
  } else {
    checkpoints = std::move(*cps);
    for (const auto& c : checkpoints) roots_at.emplace(c.head.tree_size, Hash{});
  }

  // One pass over all three files in step.
  auto chunk = [](std::uint64_t file_len, std::size_t max) {
    return static_cast<std::size_t>(std::clamp<std::uint64_t>(file_len, 64, max));
  };
  SeqReader offsets(offsets_fd.get(), path_of(kOffsetsFile), chunk(*offsets_len, 1 << 20));
  SeqReader entries(entries_fd.get(), path_of(kEntriesFile), chunk(*entries_len, 4 << 20));
  SeqReader tree(tree_fd.get(), path_of(kTreeFile), chunk(*tree_len, 2 << 20));
  std::vector<std::pair<unsigned, Hash>> frontier;
  std::uint64_t prev_end = 0;
  bool stop = false;
  auto next_stored = [&](std::uint64_t index) -> Result<const std::uint8_t*> {
    auto p = tree.take(kHashSize);
    if (p && *p == nullptr) {
      scan.bad(index, fmt::format("tree file ends early: hashes for entry {} are missing (truncated?)", index));
      stop = true;
    }
    return p;
  };
  if (auto it = roots_at.find(0); it != roots_at.end()) it->second = empty_tree_hash();
  for (std::uint64_t i = 0; i < n && !stop; ++i) {
    auto off = offsets.take(8);
    if (!off) return std::unexpected(off.error());
    if (*off == nullptr) {
      scan.bad(i, fmt::format("offsets file ends early at entry {} (truncated?)", i));
      break;
    }
    const std::uint64_t end = get_u64(*off);
    if (end < prev_end + kRecordHeader || end - prev_end - kRecordHeader > kMaxEntrySize) {
      scan.bad(i, fmt::format("offsets: entry {} ends at byte {}, impossible after its start at {}", i, end, prev_end));
      break;
    }
    if (end > *entries_len) {
      scan.bad(i, fmt::format("entries file ends at byte {} inside entry {} (truncated?)", *entries_len, i));
      break;
    }
    auto rec = entries.take(end - prev_end);
    if (!rec) return std::unexpected(rec.error());
    if (*rec == nullptr) {
      scan.bad(i, fmt::format("entries file ends early inside entry {}", i));
      break;
    }
    const std::uint64_t payload = end - prev_end - kRecordHeader;
    if (get_u32(*rec) != payload) {
      scan.bad(i, fmt::format("entry {}: length field says {} bytes, offsets say {}", i, get_u32(*rec), payload));
      break;
    }
    const Hash leaf = hasher.leaf(ByteView(*rec + kRecordHeader, payload));
    report.entry_bytes += payload;
    report.hashed_bytes += payload + 1;
    auto stored = next_stored(i);
    if (!stored) return std::unexpected(stored.error());
    if (stop) break;
    if (std::memcmp(*stored, leaf.data(), kHashSize) != 0) {
      scan.bad(i, fmt::format("entry {} does not match its stored leaf hash (the entry or the hash was changed)", i));
      break;
    }
    frontier.emplace_back(0u, leaf);
    while (frontier.size() >= 2 && frontier[frontier.size() - 1].first == frontier[frontier.size() - 2].first) {
      const Hash right = frontier.back().second;
      frontier.pop_back();
      auto& left = frontier.back();
      left.second = hasher.node(left.second, right);
      left.first += 1;
      report.hashed_bytes += 1 + 2 * kHashSize;
      auto s = next_stored(i);
      if (!s) return std::unexpected(s.error());
      if (stop) break;
      if (std::memcmp(*s, left.second.data(), kHashSize) != 0) {
        const std::uint64_t first = i + 1 - (std::uint64_t{1} << left.first);
        scan.bad(first, fmt::format("stored hash of entries {}..{} (level {}) does not match them", first, i, left.first));
        stop = true;
        break;
      }
    }
    prev_end = end;
    if (auto it = roots_at.find(i + 1); it != roots_at.end()) {
      Hash acc = frontier.back().second;
      for (std::size_t k = frontier.size() - 1; k-- > 0;) acc = hasher.node(frontier[k].second, acc);
      it->second = acc;
    }
  }
  if (!report.first_bad_index.has_value() && report.intact) {
    Hash acc = empty_tree_hash();
    if (!frontier.empty()) {
      acc = frontier.back().second;
      for (std::size_t k = frontier.size() - 1; k-- > 0;) acc = hasher.node(frontier[k].second, acc);
    }
    report.root = acc;
    if (acc != head->root) scan.bad(std::nullopt, "head: the committed root is not the root of the stored entries");
  }

  // Bytes beyond the committed size: a torn write, not tampering.
  const std::uint64_t extra = (*entries_len - std::min(*entries_len, prev_end)) +
                              (*offsets_len - std::min(*offsets_len, n * 8)) +
                              (*tree_len - std::min(*tree_len, node_count(n) * kHashSize));
  if (report.intact && extra > 0)
    report.notes.push_back(fmt::format(
        "{} uncommitted bytes beyond entry {} (a torn write from a crash, or a writer is appending); the next "
        "writer truncates them",
        extra, n));

  // Checkpoints: signature, and that the ledger still has the signed root.
  std::optional<PublicKey> key = options.public_key;
  if (!checkpoints.empty() || key) {
    auto own = ledger_public_key(dir);
    if (!key) {
      if (own) {
        key = *own;
        report.notes.push_back("checkpoint signatures checked with the ledger's own pubkey.pem; pass --pubkey for an independent check");
      } else if (own.error().category != ErrorCategory::not_found) {
        scan.bad(std::nullopt, "pubkey.pem: " + own.error().message);
      }
    } else if (own && own->key_id() != key->key_id()) {
      scan.bad(std::nullopt, "pubkey.pem is not the public key given to verify (replaced?)");
    } else if (!own && own.error().category != ErrorCategory::not_found) {
      scan.bad(std::nullopt, "pubkey.pem: " + own.error().message);
    }
  }
  for (std::size_t k = 0; k < checkpoints.size(); ++k) {
    const auto& c = checkpoints[k];
    if (key) {
      if (auto r = verify_tree_head(c, *key); !r)
        scan.bad(std::nullopt, fmt::format("checkpoint {} (size {}): {}", k + 1, c.head.tree_size, r.error().message));
    }
    if (c.head.tree_size > n) {
      scan.bad(n, fmt::format("checkpoint {} signed size {}, but the ledger now has only {} entries (entries removed)",
                              k + 1, c.head.tree_size, n));
    } else if (report.intact && roots_at[c.head.tree_size] != c.head.root) {
      scan.bad(std::nullopt, fmt::format("checkpoint {} (size {}): the ledger's root at that size differs from the "
                                         "signed one (entries before {} were rewritten)",
                                         k + 1, c.head.tree_size, c.head.tree_size));
    }
    ++report.checkpoints_checked;
  }
  if (!checkpoints.empty() && !key) report.notes.push_back("checkpoint signatures not checked: no public key");
  return report;
}

}  // namespace airssys::ledger
