// Ledger continuity's pieces the agent's start relies on
// (ledger_continuity.hpp): which ledger errors set a ledger aside (real
// ledgers damaged on disk; errors that may pass never), the record of
// discontinuities not raised yet and its round trip through a real store,
// and a check made against what an unraised one found. The agent's own
// behaviour: daemoneye.agent_ledger_set_aside and agent_ledger_edges.
#include <airssys/daemoneye/ledger_continuity.hpp>
#include <airssys/daemoneye/store.hpp>

#include <airssys/ledger/error.hpp>
#include <airssys/ledger/ledger.hpp>
#include <airssys/ledger/merkle.hpp>

#include <gtest/gtest.h>

#include <cerrno>
#include <fstream>

#include "store_test_util.hpp"

namespace airssys::daemoneye {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

ledger::Error open_error(const fs::path& dir) {
  auto l = ledger::Ledger::open(dir);
  EXPECT_FALSE(l) << "the damaged ledger opened";
  return l ? ledger::Error{} : l.error();
}

TEST(LedgerContinuity, OnlyDamageThatStaysSetsALedgerAside) {
  TempDir tmp;
  const fs::path dir = tmp.path() / "ledger";
  ASSERT_TRUE(ledger::Ledger::create(dir));
  {  // a flipped head byte
    std::fstream head(dir / "head", std::ios::in | std::ios::out | std::ios::binary);
    head.seekp(20);
    head.put('\xff');
  }
  const ledger::Error flipped = open_error(dir);
  EXPECT_TRUE(damaged_for_good(flipped.category, flipped.errno_value)) << flipped.to_string();

  const fs::path dir2 = tmp.path() / "ledger2";
  ASSERT_TRUE(ledger::Ledger::create(dir2));
  fs::remove(dir2 / "tree");
  fs::create_directory(dir2 / "tree");  // a directory where a file should be
  const ledger::Error is_dir = open_error(dir2);
  EXPECT_TRUE(damaged_for_good(is_dir.category, is_dir.errno_value)) << is_dir.to_string();

  // What the ledger library maps to io (and a lock or a full disk) may pass:
  // never a reason to move a ledger.
  for (const int e : {EIO, EMFILE, ENFILE, ENOMEM, ENOLCK, ESTALE, ETIMEDOUT, ENOSPC, EDQUOT, EACCES, EPERM}) {
    const ledger::Error err = ledger::Error::from_errno(e, "open head");
    EXPECT_FALSE(damaged_for_good(err.category, err.errno_value)) << err.to_string();
  }
  EXPECT_FALSE(damaged_for_good(ledger::ErrorCategory::busy, EWOULDBLOCK));
  EXPECT_FALSE(damaged_for_good(ledger::ErrorCategory::not_found, ENOENT));
  EXPECT_FALSE(damaged_for_good(ledger::ErrorCategory::invalid_argument, ENAMETOOLONG));
}

TEST(LedgerContinuity, DiscontinuitiesNotRaisedYetSurviveInTheStoreAndAreComparedWith) {
  TempDir tmp;
  auto store = Store::open({.path = tmp.path() / "daemoneye.db"});
  ASSERT_TRUE(store) << store.error().to_string();
  auto none = (*store)->pending_ledger_discontinuities();
  ASSERT_TRUE(none) << none.error().to_string();
  EXPECT_EQ(*none, "");

  const LedgerDiscontinuity aside = set_aside_ledger(**store, "ledger /x: corrupt: head (set aside as /x.unverifiable-1)");
  EXPECT_EQ(aside.kind, LedgerDiscontinuity::Kind::unverifiable);
  EXPECT_EQ(aside.reason, "unverifiable: ledger /x: corrupt: head (set aside as /x.unverifiable-1)");
  EXPECT_EQ(aside.found_size, 0u);
  EXPECT_EQ(aside.found_root, ledger::to_hex(ledger::empty_tree_hash()));
  const std::vector<LedgerDiscontinuity> pending{
      {.kind = LedgerDiscontinuity::Kind::shorter, .expected_size = 9, .expected_root = "ab", .found_size = 3, .found_root = "cd"},
      aside};
  ASSERT_TRUE((*store)->save_pending_ledger_discontinuities(pending_text(pending)));
  store->reset();
  store = Store::open({.path = tmp.path() / "daemoneye.db"});  // as the next start
  ASSERT_TRUE(store) << store.error().to_string();
  auto text = (*store)->pending_ledger_discontinuities();
  ASSERT_TRUE(text) << text.error().to_string();
  auto back = pending_from(*text);
  ASSERT_TRUE(back) << back.error().to_string();
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ((*back)[0].kind, LedgerDiscontinuity::Kind::shorter);
  EXPECT_EQ((*back)[0].expected_size, 9u);
  EXPECT_EQ((*back)[0].found_root, "cd");
  EXPECT_EQ((*back)[1].reason, aside.reason);
  EXPECT_EQ((*back)[1].found_root, aside.found_root);
  EXPECT_FALSE(pending_from("{\"problem\":\"missing\"}"));
  EXPECT_FALSE(pending_from("[{\"problem\":\"gone\",\"expected_size\":1}]"));

  // A new empty ledger goes on from what the set-aside found (an empty
  // ledger), whatever the store's mark says; one with an entry too.
  const fs::path dir = tmp.path() / "ledger";
  auto l = ledger::Ledger::create(dir);
  ASSERT_TRUE(l) << l.error().to_string();
  auto d = check_ledger_continuity(**l, **store, true, &(*back)[1]);
  ASSERT_TRUE(d) << d.error().to_string();
  EXPECT_FALSE(*d);
  // Against what the "shorter" one found (3 entries, root cd): an empty ledger is shorter still.
  d = check_ledger_continuity(**l, **store, false, &(*back)[0]);
  ASSERT_TRUE(d) << d.error().to_string();
  ASSERT_TRUE(*d);
  EXPECT_EQ((*d)->kind, LedgerDiscontinuity::Kind::shorter);
  EXPECT_EQ((*d)->expected_size, 3u);

  ASSERT_TRUE((*store)->save_pending_ledger_discontinuities(""));
  text = (*store)->pending_ledger_discontinuities();
  ASSERT_TRUE(text);
  EXPECT_EQ(*text, "");
}

}  // namespace
}  // namespace airssys::daemoneye
