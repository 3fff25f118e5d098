// Ed25519 key files for live queries: the real openssl's PEM files load,
// sign and verify; unsafe files are refused; no key material in errors.

#include <sys/stat.h>
#include <unistd.h>

#include <airssys/daemoneye/live_query_keys.hpp>
#include <filesystem>
#include <gtest/gtest.h>

#include "live_query_test_keys.hpp"
#include "test_temp_dir.hpp"

namespace airssys::daemoneye {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;
using testing::make_key_pair;
using testing::read_file;

class KeysTest : public ::testing::Test {
 protected:
  void SetUp() override { make_key_pair(tmp_.path(), "op"); }
  fs::path priv() const { return tmp_.path() / "op.pem"; }
  fs::path pub() const { return tmp_.path() / "op.pub.pem"; }
  TempDir tmp_;
};

TEST_F(KeysTest, OpensslKeysSignAndVerify) {
  auto sk = Ed25519PrivateKey::load(priv());
  ASSERT_TRUE(sk) << sk.error();
  auto pk = Ed25519PublicKey::load(pub());
  ASSERT_TRUE(pk) << pk.error();
  EXPECT_EQ(sk->fingerprint(), pk->fingerprint());
  EXPECT_EQ(sk->fingerprint().substr(0, 7), "sha256:");
  EXPECT_EQ(sk->fingerprint().size(), 7u + 64u);
  auto sig = sk->sign("hello");
  ASSERT_TRUE(sig) << sig.error();
  ASSERT_EQ(sig->size(), 64u);
  EXPECT_TRUE(pk->verify("hello", *sig));
  EXPECT_FALSE(pk->verify("hellO", *sig));
  std::string bad = *sig;
  bad[10] = static_cast<char>(bad[10] ^ 1);
  EXPECT_FALSE(pk->verify("hello", bad));
  EXPECT_FALSE(pk->verify("hello", sig->substr(0, 63)));
  // The public PEM the private key gives is the one openssl wrote.
  EXPECT_EQ(sk->public_pem(), read_file(pub()));
}

TEST_F(KeysTest, AnotherKeyDoesNotVerify) {
  make_key_pair(tmp_.path(), "other");
  auto sk = Ed25519PrivateKey::load(tmp_.path() / "other.pem");
  auto pk = Ed25519PublicKey::load(pub());
  ASSERT_TRUE(sk && pk);
  EXPECT_NE(sk->fingerprint(), pk->fingerprint());
  EXPECT_FALSE(pk->verify("hello", *sk->sign("hello")));
}

TEST_F(KeysTest, PrivateKeyReadableByOthersIsRefusedWithoutItsContent) {
  for (const mode_t mode : {0640, 0604, 0660, 0610}) {
    ::chmod(priv().c_str(), mode);
    auto sk = Ed25519PrivateKey::load(priv());
    ASSERT_FALSE(sk) << std::oct << mode;
    EXPECT_EQ(sk.error().category, ErrorCategory::denied);
    EXPECT_NE(sk.error().message.find("refusing private key"), std::string::npos) << sk.error();
    EXPECT_NE(sk.error().message.find("chmod 600"), std::string::npos) << sk.error();
    EXPECT_EQ(sk.error().message.find("PRIVATE KEY"), std::string::npos);
  }
  ::chmod(priv().c_str(), 0400);
  EXPECT_TRUE(Ed25519PrivateKey::load(priv()));
}

TEST_F(KeysTest, TrustedKeyWritableByOthersIsRefused) {
  ::chmod(pub().c_str(), 0664);
  auto pk = Ed25519PublicKey::load(pub());
  ASSERT_FALSE(pk);
  EXPECT_EQ(pk.error().category, ErrorCategory::denied);
  EXPECT_NE(pk.error().message.find("writable by its group (mode 0664)"), std::string::npos) << pk.error();
  ::chmod(pub().c_str(), 0646);
  pk = Ed25519PublicKey::load(pub());
  ASSERT_FALSE(pk);
  EXPECT_NE(pk.error().message.find("writable by everyone"), std::string::npos) << pk.error();
}

TEST_F(KeysTest, SymlinksAreNotFollowed) {
  fs::create_symlink(pub(), tmp_.path() / "link.pem");
  auto pk = Ed25519PublicKey::load(tmp_.path() / "link.pem");
  ASSERT_FALSE(pk);
  EXPECT_EQ(pk.error().category, ErrorCategory::denied);
  EXPECT_NE(pk.error().message.find("symbolic link"), std::string::npos) << pk.error();
}

TEST_F(KeysTest, WrongKindsAndMissingFilesAreSpecificErrors) {
  // A private key where a public one belongs, and the reverse.
  ::chmod(priv().c_str(), 0600);
  auto pk = Ed25519PublicKey::load(priv());
  ASSERT_FALSE(pk);
  EXPECT_EQ(pk.error().category, ErrorCategory::invalid_input);
  EXPECT_NE(pk.error().message.find("not an Ed25519 public key"), std::string::npos) << pk.error();
  EXPECT_EQ(pk.error().message.find("BEGIN"), std::string::npos);
  auto sk = Ed25519PrivateKey::load(pub().string() + ".missing");
  ASSERT_FALSE(sk);
  EXPECT_EQ(sk.error().category, ErrorCategory::not_found);
  // An RSA key is not an Ed25519 key.
  const auto rsa = tmp_.path() / "rsa.pem";
  ASSERT_EQ(::airssys::testing::run({"openssl", "genpkey", "-algorithm", "rsa", "-pkeyopt", "rsa_keygen_bits:1024",
                                     "-out", rsa.string()})
                .status,
            0);
  ::chmod(rsa.c_str(), 0600);
  sk = Ed25519PrivateKey::load(rsa);
  ASSERT_FALSE(sk);
  EXPECT_NE(sk.error().message.find("not an Ed25519 private key"), std::string::npos) << sk.error();
  // A directory.
  sk = Ed25519PrivateKey::load(tmp_.path());
  ASSERT_FALSE(sk);
}

TEST(Hex, RoundTripsAndRefusesNonHex) {
  EXPECT_EQ(to_hex(std::string("\x00\xff\x10", 3)), "00ff10");
  EXPECT_EQ(*from_hex("00ff10"), std::string("\x00\xff\x10", 3));
  EXPECT_FALSE(from_hex("0"));
  EXPECT_FALSE(from_hex("0g"));
  EXPECT_FALSE(from_hex("FF"));
}

}  // namespace
}  // namespace airssys::daemoneye
