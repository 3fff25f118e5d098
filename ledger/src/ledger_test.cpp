// The on-disk ledger: roots and proofs agree with the in-memory reference for
// every size up to 64, durability and recovery rules, locking, concurrency.

#include <airssys/ledger/ledger.hpp>
#include <airssys/ledger/verify.hpp>

#include "test_util.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <set>
#include <thread>

namespace airssys::ledger {
namespace {

using testing::bytes;
using testing::TempDir;

std::vector<std::uint8_t> synthetic_entry(std::uint64_t i) {
  return bytes("entry-" + std::to_string(i) + std::string(i % 7, 'x'));
}

TEST(Ledger, ReferenceLeavesGiveReferenceRoots) {
  TempDir tmp;
  auto l = Ledger::create(tmp / "l").value();
  EXPECT_EQ(l->size(), 0u);
  EXPECT_EQ(l->root(), empty_tree_hash());
  for (const char* hex : {"", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                          "606162636465666768696a6b6c6d6e6f"}) {
    (void)l->append(from_hex(hex).value()).value();
  }
  EXPECT_EQ(to_hex(l->root()), "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328");
  EXPECT_EQ(to_hex(l->root(3).value()), "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77");
  EXPECT_EQ(to_hex(l->root(0).value()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  l.reset();
  auto r = Ledger::open(tmp / "l", {.read_only = true}).value();
  EXPECT_EQ(r->size(), 8u);
  EXPECT_EQ(r->entry(0).value(), std::vector<std::uint8_t>{});
  EXPECT_EQ(to_hex(r->entry(7).value()), "606162636465666768696a6b6c6d6e6f");
  EXPECT_EQ(to_hex(r->root(6).value()), "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef");
}

void expect_proofs_match_reference(const Ledger& l, const std::vector<Hash>& leaves) {
  for (std::uint64_t n = 0; n <= leaves.size(); ++n) {
    ASSERT_EQ(l.root(n).value(), root_from_leaf_hashes(std::span(leaves).first(n))) << n;
    for (std::uint64_t i = 0; i < n; ++i)
      ASSERT_EQ(l.inclusion_proof(i, n).value(), inclusion_proof(leaves, i, n).value()) << i << "/" << n;
    for (std::uint64_t m = 0; m <= n; ++m)
      ASSERT_EQ(l.consistency_proof(m, n).value(), consistency_proof(leaves, m, n).value()) << m << "->" << n;
  }
}

TEST(Ledger, DiskProofsEqualReferenceForEverySizeUpTo64) {
  TempDir tmp;
  std::vector<Hash> leaves;
  {
    auto l = Ledger::create(tmp / "l").value();
    // Mixed commit sizes: single appends and batches.
    std::uint64_t i = 0;
    while (i < 64) {
      const std::uint64_t batch = std::min<std::uint64_t>(64 - i, 1 + i % 5);
      std::vector<std::vector<std::uint8_t>> data;
      for (std::uint64_t k = 0; k < batch; ++k) data.push_back(synthetic_entry(i + k));
      std::vector<ByteView> views(data.begin(), data.end());
      EXPECT_EQ(l->append_batch(views).value(), i);
      for (const auto& d : data) leaves.push_back(leaf_hash(d));
      i += batch;
    }
    for (std::uint64_t k = 0; k < 64; ++k) ASSERT_EQ(l->leaf_hash(k).value(), leaves[k]);
    expect_proofs_match_reference(*l, leaves);  // new nodes read with pread
  }
  auto l = Ledger::open(tmp / "l", {.read_only = true}).value();
  expect_proofs_match_reference(*l, leaves);  // all nodes from the mapping
  for (std::uint64_t k = 0; k < 64; ++k) ASSERT_EQ(l->entry(k).value(), synthetic_entry(k));
}

TEST(Ledger, OutOfRangeRequests) {
  TempDir tmp;
  auto l = Ledger::create(tmp / "l").value();
  (void)l->append(bytes("a")).value();
  (void)l->append(bytes("b")).value();
  EXPECT_EQ(l->root(3).error().category, ErrorCategory::out_of_range);
  EXPECT_EQ(l->inclusion_proof(2, 2).error().category, ErrorCategory::out_of_range);
  EXPECT_EQ(l->inclusion_proof(0, 3).error().category, ErrorCategory::out_of_range);
  EXPECT_EQ(l->inclusion_proof(0, 0).error().category, ErrorCategory::out_of_range);
  EXPECT_EQ(l->consistency_proof(2, 1).error().category, ErrorCategory::out_of_range);
  EXPECT_EQ(l->consistency_proof(1, 3).error().category, ErrorCategory::out_of_range);
  EXPECT_EQ(l->entry(2).error().category, ErrorCategory::out_of_range);
  EXPECT_EQ(l->append_batch({}).error().category, ErrorCategory::invalid_argument);
}

TEST(Ledger, CreateAndOpenRules) {
  TempDir tmp;
  ASSERT_TRUE(Ledger::create(tmp / "l"));
  EXPECT_EQ(Ledger::create(tmp / "l").error().category, ErrorCategory::already_exists);
  std::filesystem::create_directory(tmp / "other");
  testing::write_file(tmp / "other" / "x", bytes("x"));
  EXPECT_EQ(Ledger::create(tmp / "other").error().category, ErrorCategory::invalid_argument);
  EXPECT_EQ(Ledger::open(tmp / "other").error().category, ErrorCategory::not_found);
  EXPECT_EQ(Ledger::open(tmp / "missing").error().category, ErrorCategory::not_found);
  EXPECT_EQ(testing::file_mode(tmp / "l"), 0700u);
  for (const char* f : {"head", "entries", "offsets", "tree", "lock"}) EXPECT_EQ(testing::file_mode(tmp / "l" / f), 0600u) << f;
}

TEST(Ledger, OneWriterManyReaders) {
  TempDir tmp;
  auto w = Ledger::create(tmp / "l").value();
  auto second = Ledger::open(tmp / "l");
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().category, ErrorCategory::busy);
  auto r = Ledger::open(tmp / "l", {.read_only = true}).value();
  EXPECT_EQ(r->append(bytes("x")).error().category, ErrorCategory::invalid_argument);
  w.reset();
  EXPECT_TRUE(Ledger::open(tmp / "l"));
}

// Two processes creating one ledger at once: while the first holds the
// writer lock and has made its files but not yet its head, the second's
// create must not truncate them (it did: the lock was only taken by the
// open at the end). Here the "first" is this test holding the lock.
TEST(Ledger, CreateWhileAnotherHoldsTheWriterLockTruncatesNothing) {
  TempDir tmp;
  const auto dir = tmp / "l";
  std::filesystem::create_directory(dir);
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all);
  testing::write_file(dir / "entries", bytes("the first creator's entry"));
  const int lock = ::open((dir / "lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(lock, 0);
  ASSERT_EQ(::flock(lock, LOCK_EX | LOCK_NB), 0);
  auto second = Ledger::create(dir);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().category, ErrorCategory::busy) << second.error().to_string();
  EXPECT_EQ(testing::read_file(dir / "entries"), bytes("the first creator's entry"));
  EXPECT_FALSE(std::filesystem::exists(dir / "head"));
  ::close(lock);
}

TEST(Ledger, SymlinksInTheDirectoryAreNotFollowed) {
  TempDir tmp;
  { (void)Ledger::create(tmp / "l").value()->append(bytes("a")).value(); }
  std::filesystem::rename(tmp / "l" / "tree", tmp / "tree.real");
  std::filesystem::create_symlink(tmp / "tree.real", tmp / "l" / "tree");
  auto l = Ledger::open(tmp / "l");
  ASSERT_FALSE(l);
  EXPECT_EQ(l.error().category, ErrorCategory::corrupt);
  std::filesystem::create_directory_symlink(tmp / "l", tmp / "link");
  EXPECT_FALSE(Ledger::open(tmp / "link"));
}

TEST(Ledger, TornTailIsTruncatedWithAWarning) {
  TempDir tmp;
  const auto dir = tmp / "l";
  Hash root5;
  {
    auto l = Ledger::create(dir).value();
    for (int i = 0; i < 5; ++i) (void)l->append(synthetic_entry(i)).value();
    root5 = l->root();
  }
  const auto entries_size = std::filesystem::file_size(dir / "entries");
  const auto offsets_size = std::filesystem::file_size(dir / "offsets");
  const auto tree_size = std::filesystem::file_size(dir / "tree");
  // What a crash between writing data and committing the head leaves behind.
  testing::append_file(dir / "entries", bytes("\x07\x00\x00\x00partial"));
  testing::append_file(dir / "offsets", bytes("\x01\x02\x03"));
  testing::append_file(dir / "tree", std::vector<std::uint8_t>(40, 0xee));

  {
    auto ro = Ledger::open(dir, {.read_only = true}).value();
    EXPECT_EQ(ro->size(), 5u);
    ASSERT_EQ(ro->warnings().size(), 1u);
    EXPECT_NE(ro->warnings()[0].find("uncommitted"), std::string::npos);
    EXPECT_GT(std::filesystem::file_size(dir / "entries"), entries_size);  // read-only changes nothing
    auto report = verify(dir).value();
    EXPECT_TRUE(report.intact) << report.problem;
    EXPECT_EQ(report.notes.size(), 1u);
  }
  auto l = Ledger::open(dir).value();
  ASSERT_EQ(l->warnings().size(), 1u);
  EXPECT_NE(l->warnings()[0].find("truncated a torn tail"), std::string::npos) << l->warnings()[0];
  EXPECT_EQ(l->size(), 5u);
  EXPECT_EQ(l->root(), root5);
  EXPECT_EQ(std::filesystem::file_size(dir / "entries"), entries_size);
  EXPECT_EQ(std::filesystem::file_size(dir / "offsets"), offsets_size);
  EXPECT_EQ(std::filesystem::file_size(dir / "tree"), tree_size);
  EXPECT_EQ(l->append(synthetic_entry(5)).value(), 5u);
  l.reset();
  auto report = verify(dir).value();
  EXPECT_TRUE(report.intact) << report.problem;
  EXPECT_EQ(report.size, 6u);
  EXPECT_TRUE(report.notes.empty());
}

TEST(Ledger, TruncatedFilesAreCorruptionNotATornTail) {
  for (const char* file : {"entries", "offsets", "tree"}) {
    TempDir tmp;
    const auto dir = tmp / "l";
    {
      auto l = Ledger::create(dir).value();
      for (int i = 0; i < 6; ++i) (void)l->append(synthetic_entry(i)).value();
    }
    std::filesystem::resize_file(dir / file, std::filesystem::file_size(dir / file) - 1);
    auto l = Ledger::open(dir);
    ASSERT_FALSE(l) << file;
    EXPECT_EQ(l.error().category, ErrorCategory::corrupt) << file;
    auto report = verify(dir).value();
    EXPECT_FALSE(report.intact) << file;
    ASSERT_TRUE(report.first_bad_index.has_value()) << file << ": " << report.problem;
    EXPECT_EQ(*report.first_bad_index, 5u) << file << ": " << report.problem;
  }
}

TEST(Ledger, EmptyAndLargeEntries) {
  TempDir tmp;
  auto l = Ledger::create(tmp / "l").value();
  std::vector<std::uint8_t> big(3 << 20);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::uint8_t>(i * 31);
  EXPECT_EQ(l->append({}).value(), 0u);
  EXPECT_EQ(l->append(big).value(), 1u);
  EXPECT_EQ(l->entry(0).value().size(), 0u);
  EXPECT_EQ(l->entry(1).value(), big);
  EXPECT_EQ(l->leaf_hash(0).value(), leaf_hash({}));
  l.reset();
  EXPECT_TRUE(verify(tmp / "l").value().intact);
}

TEST(Ledger, ConcurrentAppendersGetDistinctDurableIndices) {
  TempDir tmp;
  auto l = Ledger::create(tmp / "l").value();
  constexpr int kThreads = 4, kEach = 300;
  std::vector<std::vector<std::uint64_t>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < kEach; ++k) {
        const auto data = bytes("t" + std::to_string(t) + "-" + std::to_string(k));
        auto idx = l->append(data);
        ASSERT_TRUE(idx) << idx.error().to_string();
        got[t].push_back(*idx);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(l->size(), std::uint64_t{kThreads * kEach});
  std::set<std::uint64_t> all;
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_TRUE(std::is_sorted(got[t].begin(), got[t].end()));
    for (int k = 0; k < kEach; ++k) {
      all.insert(got[t][k]);
      EXPECT_EQ(l->entry(got[t][k]).value(), bytes("t" + std::to_string(t) + "-" + std::to_string(k)));
    }
  }
  EXPECT_EQ(all.size(), std::size_t{kThreads * kEach});
  EXPECT_EQ(*all.rbegin(), std::uint64_t{kThreads * kEach - 1});
  l.reset();
  auto report = verify(tmp / "l").value();
  EXPECT_TRUE(report.intact) << report.problem;
}

// A tree head read while another thread appends: head() gives a size and the
// root at that size, and root(size) the root at that size even when an
// append commits between its own reads (before, it could return the later
// root: a published head a verifier would call tampered).
TEST(Ledger, HeadAndRootAtSizeStayConsistentWhileAnotherThreadAppends) {
  TempDir tmp;
  auto l = Ledger::create(tmp / "l").value();
  std::atomic<bool> done{false};
  std::vector<Ledger::Head> heads;
  std::vector<Ledger::Head> at_size;  // size(), then root(that size)
  std::thread reader([&] {
    // Bounded memory: the appends (each fsync'ed) take long on a busy disk.
    while (!done.load(std::memory_order_acquire) && heads.size() < 200'000) {
      heads.push_back(l->head());
      const std::uint64_t n = l->size();
      if (auto r = l->root(n)) at_size.push_back({n, *r});
    }
  });
  for (std::uint64_t i = 0; i < 300; ++i) ASSERT_TRUE(l->append(synthetic_entry(i)));
  done.store(true, std::memory_order_release);
  reader.join();
  ASSERT_FALSE(heads.empty());
  std::map<std::uint64_t, Hash> truth;
  for (std::uint64_t n = 0; n <= l->size(); ++n) truth[n] = l->root(n).value();
  for (const auto& h : heads) EXPECT_EQ(h.root, truth.at(h.size)) << "head() at size " << h.size;
  for (const auto& h : at_size) EXPECT_EQ(h.root, truth.at(h.size)) << "root(" << h.size << ")";
}

}  // namespace
}  // namespace airssys::ledger
