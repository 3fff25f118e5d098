// Signed tree heads: Ed25519 signatures over RFC 6962's TreeHeadSignature,
// key files, JSON form, and checkpoints stored with a ledger.

#include <airssys/ledger/checkpoint.hpp>
#include <airssys/ledger/ledger.hpp>

#include "test_util.hpp"

#include <gtest/gtest.h>

namespace airssys::ledger {
namespace {

using testing::TempDir;

TreeHead sample() {
  TreeHead h;
  h.tree_size = 0x0102030405060708ull;
  h.timestamp_ms = 0x1112131415161718ull;
  h.root = hash_from_hex("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328").value();
  return h;
}

TEST(Checkpoint, SignatureInputIsRfc6962TreeHeadSignature) {
  const auto b = tree_head_signature_input(sample());
  EXPECT_EQ(to_hex(ByteView(b)),
            "0001" "1112131415161718" "0102030405060708"
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328");
}

TEST(Checkpoint, SignAndVerify) {
  auto key = SigningKey::generate().value();
  auto sth = sign_tree_head(sample(), key).value();
  EXPECT_TRUE(verify_tree_head(sth, key.public_key()));
  auto changed = sth;
  changed.head.tree_size += 1;
  EXPECT_EQ(verify_tree_head(changed, key.public_key()).error().category, ErrorCategory::invalid_proof);
  changed = sth;
  changed.head.timestamp_ms ^= 1;
  EXPECT_FALSE(verify_tree_head(changed, key.public_key()));
  changed = sth;
  changed.head.root[31] ^= 0x80;
  EXPECT_FALSE(verify_tree_head(changed, key.public_key()));
  changed = sth;
  changed.signature[0] ^= 1;
  EXPECT_FALSE(verify_tree_head(changed, key.public_key()));
  auto other = SigningKey::generate().value();
  EXPECT_FALSE(verify_tree_head(sth, other.public_key()));
}

TEST(Checkpoint, JsonRoundTripAndStrictParsing) {
  auto key = SigningKey::generate().value();
  auto sth = sign_tree_head(sample(), key).value();
  const std::string json = sth.to_json();
  auto back = SignedTreeHead::from_json(json).value();
  EXPECT_EQ(back.head.tree_size, sth.head.tree_size);
  EXPECT_EQ(back.head.root, sth.head.root);
  EXPECT_EQ(back.signature, sth.signature);
  EXPECT_TRUE(verify_tree_head(back, key.public_key()));
  EXPECT_FALSE(SignedTreeHead::from_json("{"));
  EXPECT_FALSE(SignedTreeHead::from_json("[]"));
  EXPECT_FALSE(SignedTreeHead::from_json(R"({"tree_size":-1})"));
  std::string upper = json;
  const auto pos = upper.find("5dc9da");
  upper.replace(pos, 6, "5DC9DA");
  EXPECT_FALSE(SignedTreeHead::from_json(upper));
}

TEST(Checkpoint, KeyFiles) {
  TempDir tmp;
  auto key = SigningKey::generate().value();
  ASSERT_TRUE(key.save(tmp / "k.pem"));
  EXPECT_EQ(testing::file_mode(tmp / "k.pem"), 0600u);
  EXPECT_EQ(key.save(tmp / "k.pem").error().category, ErrorCategory::already_exists);
  auto loaded = SigningKey::load(tmp / "k.pem").value();
  EXPECT_EQ(loaded.public_key().key_id(), key.public_key().key_id());
  ASSERT_TRUE(write_new_file(tmp / "k.pub", key.public_key().pem()));
  EXPECT_EQ(PublicKey::load(tmp / "k.pub").value().key_id(), key.public_key().key_id());
  EXPECT_EQ(PublicKey::load(tmp / "k.pem").value().key_id(), key.public_key().key_id());  // from the private key
  testing::write_file(tmp / "junk", testing::bytes("not a key"));
  EXPECT_EQ(SigningKey::load(tmp / "junk").error().category, ErrorCategory::crypto);
  EXPECT_EQ(PublicKey::load(tmp / "missing").error().category, ErrorCategory::not_found);
}

TEST(Checkpoint, StoredWithTheLedger) {
  TempDir tmp;
  auto key = SigningKey::generate().value();
  auto l = Ledger::create(tmp / "l").value();
  ASSERT_TRUE(attach_signing_key(tmp / "l", tmp / "k.pem", key));
  EXPECT_EQ(attached_key_file(tmp / "l").value(), tmp / "k.pem");
  EXPECT_EQ(ledger_public_key(tmp / "l").value().key_id(), key.public_key().key_id());
  (void)l->append(testing::bytes("a")).value();
  auto first = write_checkpoint(*l, key).value();
  (void)l->append(testing::bytes("b")).value();
  auto second = write_checkpoint(*l, key).value();
  EXPECT_EQ(first.head.tree_size, 1u);
  EXPECT_EQ(second.head.root, l->root());
  auto all = read_checkpoints(tmp / "l").value();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1].head.tree_size, 2u);
  EXPECT_EQ(testing::file_mode(tmp / "l" / "checkpoints"), 0600u);
  TempDir bare;
  EXPECT_EQ(attached_key_file(bare.path()).error().category, ErrorCategory::not_found);
}

}  // namespace
}  // namespace airssys::ledger
