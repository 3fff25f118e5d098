// verify(): a flipped bit in any stored byte is reported, with the first bad
// index where one exists; rewritten histories are caught by checkpoints.

#include <airssys/ledger/checkpoint.hpp>
#include <airssys/ledger/ledger.hpp>
#include <airssys/ledger/verify.hpp>

#include "test_util.hpp"
#include "tree_math.hpp"

#include <gtest/gtest.h>

#include <map>

namespace airssys::ledger {
namespace {

using testing::bytes;
using testing::TempDir;

constexpr std::uint64_t kEntries = 13;

std::vector<std::uint8_t> entry_data(std::uint64_t i) { return bytes("record " + std::to_string(i) + std::string(i, '.')); }

// A ledger of 13 entries with two checkpoints signed by `key`.
void build(const std::filesystem::path& dir, const SigningKey& key, const std::filesystem::path& key_file) {
  auto l = Ledger::create(dir).value();
  ASSERT_TRUE(attach_signing_key(dir, key_file, key));
  for (std::uint64_t i = 0; i < 9; ++i) (void)l->append(entry_data(i)).value();
  ASSERT_TRUE(write_checkpoint(*l, key));
  for (std::uint64_t i = 9; i < kEntries; ++i) (void)l->append(entry_data(i)).value();
  ASSERT_TRUE(write_checkpoint(*l, key));
}

TEST(Verify, IntactLedger) {
  TempDir tmp;
  auto key = SigningKey::generate().value();
  build(tmp / "l", key, tmp / "key.pem");
  auto r = verify(tmp / "l", {.public_key = key.public_key()}).value();
  EXPECT_TRUE(r.intact) << r.problem;
  EXPECT_EQ(r.size, kEntries);
  EXPECT_EQ(r.checkpoints_checked, 2u);
  EXPECT_EQ(r.root, Ledger::open(tmp / "l", {.read_only = true}).value()->root());
  EXPECT_FALSE(r.first_bad_index.has_value());
  EXPECT_GT(r.entry_bytes, 0u);
}

TEST(Verify, NotALedgerIsAnError) {
  TempDir tmp;
  EXPECT_EQ(verify(tmp.path()).error().category, ErrorCategory::not_found);
}

// Which entry each byte of `entries` and `offsets` belongs to, and which first
// leaf each tree hash covers.
struct Layout {
  std::vector<std::uint64_t> entries_owner, offsets_owner, tree_first_leaf;
};

Layout layout() {
  Layout lay;
  for (std::uint64_t i = 0; i < kEntries; ++i) {
    lay.entries_owner.insert(lay.entries_owner.end(), 4 + entry_data(i).size(), i);
    lay.offsets_owner.insert(lay.offsets_owner.end(), 8, i);
  }
  lay.tree_first_leaf.resize(detail::node_count(kEntries) * kHashSize);
  for (unsigned level = 0; level < 5; ++level) {
    for (std::uint64_t j = 0; ((j + 1) << level) <= kEntries; ++j) {
      const auto pos = detail::postorder_pos(level, j);
      for (std::size_t b = 0; b < kHashSize; ++b) lay.tree_first_leaf.at(pos * kHashSize + b) = j << level;
    }
  }
  return lay;
}

TEST(Verify, EveryFlippedBitInEveryStoredByteIsReported) {
  TempDir tmp;
  auto key = SigningKey::generate().value();
  const auto pristine = tmp / "pristine";
  build(pristine, key, tmp / "key.pem");
  const Layout lay = layout();
  const std::map<std::string, const std::vector<std::uint64_t>*> owners = {
      {"entries", &lay.entries_owner}, {"offsets", &lay.offsets_owner}, {"tree", &lay.tree_first_leaf}};
  const auto dir = tmp / "l";
  std::size_t checked = 0;
  for (const std::string file : {"head", "entries", "offsets", "tree", "checkpoints", "pubkey.pem"}) {
    const auto original = testing::read_file(pristine / file);
    if (auto it = owners.find(file); it != owners.end()) {
      ASSERT_EQ(it->second->size(), original.size()) << file;
    }
    std::filesystem::remove_all(dir);
    std::filesystem::copy(pristine, dir);
    for (std::size_t off = 0; off < original.size(); ++off) {
      const unsigned bit = static_cast<unsigned>(off % 8);
      testing::flip_bit(dir / file, off, bit);
      // Checked twice: with the trusted key, and with the ledger's own pubkey.pem.
      const bool signed_part = file == "checkpoints" || file == "pubkey.pem";
      for (bool trusted : {true, false}) {
        if (!trusted && !signed_part) continue;
        VerifyOptions opts;
        if (trusted) opts.public_key = key.public_key();
        auto r = verify(dir, opts);
        ASSERT_TRUE(r) << file << "@" << off << ": " << r.error().to_string();
        ASSERT_FALSE(r->intact) << file << " byte " << off << " bit " << bit << " went unnoticed";
        if (auto it = owners.find(file); it != owners.end()) {
          ASSERT_TRUE(r->first_bad_index.has_value()) << file << "@" << off << ": " << r->problem;
          EXPECT_EQ(*r->first_bad_index, (*it->second)[off]) << file << "@" << off << ": " << r->problem;
        }
      }
      testing::write_file(dir / file, original);
      ++checked;
    }
  }
  EXPECT_GT(checked, 1000u);
}

TEST(Verify, RewrittenHistoryIsCaughtByCheckpoints) {
  TempDir tmp;
  auto key = SigningKey::generate().value();
  build(tmp / "l", key, tmp / "key.pem");
  // An attacker rebuilds a self-consistent ledger with entry 3 changed and
  // keeps the old checkpoints (which they cannot re-sign).
  {
    auto forged = Ledger::create(tmp / "forged").value();
    for (std::uint64_t i = 0; i < kEntries; ++i) (void)forged->append(i == 3 ? bytes("forged") : entry_data(i)).value();
  }
  for (const char* f : {"checkpoints", "pubkey.pem"})
    std::filesystem::copy_file(tmp / "l" / f, tmp / "forged" / f);
  auto r = verify(tmp / "forged", {.public_key = key.public_key()}).value();
  EXPECT_FALSE(r.intact);
  EXPECT_NE(r.problem.find("checkpoint 1"), std::string::npos) << r.problem;

  // Dropping entries after a checkpoint is caught too.
  {
    auto shorter = Ledger::create(tmp / "shorter").value();
    for (std::uint64_t i = 0; i < 5; ++i) (void)shorter->append(entry_data(i)).value();
  }
  for (const char* f : {"checkpoints", "pubkey.pem"})
    std::filesystem::copy_file(tmp / "l" / f, tmp / "shorter" / f);
  r = verify(tmp / "shorter", {.public_key = key.public_key()}).value();
  EXPECT_FALSE(r.intact);
  EXPECT_EQ(r.first_bad_index, std::optional<std::uint64_t>(5));
}

TEST(Verify, WrongPublicKeyIsReported) {
  TempDir tmp;
  auto key = SigningKey::generate().value();
  build(tmp / "l", key, tmp / "key.pem");
  auto other = SigningKey::generate().value();
  auto r = verify(tmp / "l", {.public_key = other.public_key()}).value();
  EXPECT_FALSE(r.intact);
}

}  // namespace
}  // namespace airssys::ledger
