#pragma once
// Test helper: Ed25519 key files made by the real `openssl genpkey` /
// `openssl pkey -pubout`, as an operator makes them.

#include <sys/stat.h>

#include <airssys/testing/run.hpp>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

namespace airssys::daemoneye::testing {

// Writes DIR/NAME.pem (private, 0600) and DIR/NAME.pub.pem (public, 0644).
inline void make_key_pair(const std::filesystem::path& dir, const std::string& name) {
  const auto priv = dir / (name + ".pem");
  const auto pub = dir / (name + ".pub.pem");
  const auto gen = ::airssys::testing::run({"openssl", "genpkey", "-algorithm", "ed25519", "-out", priv.string()});
  ASSERT_EQ(gen.status, 0) << gen.err;
  ::chmod(priv.c_str(), 0600);
  const auto out = ::airssys::testing::run({"openssl", "pkey", "-in", priv.string(), "-pubout", "-out", pub.string()});
  ASSERT_EQ(out.status, 0) << out.err;
  ::chmod(pub.c_str(), 0644);
}

}  // namespace airssys::daemoneye::testing
