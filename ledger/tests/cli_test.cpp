// Drives the real airssys-ledger binary: the CT reference vectors end to end,
// input forms, exit codes, checkpoints, tamper detection.

#include "../src/ct_vectors.hpp"
#include "../src/test_util.hpp"
#include "run_util.hpp"

#include <airssys/testing/child.hpp>
#include <airssys/testing/file.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

namespace airssys::ledger::testing {
namespace {


class Cli : public ::testing::Test {
 protected:
  TempDir tmp;
  std::string dir = (tmp / "l").string();

  void reference_ledger() {
    ASSERT_EQ(run_ledger({"init", dir}).exit_code, 0);
    std::vector<std::string> args = {"append", dir};
    for (const auto& h : kLeafHex) {
      args.push_back("--hex");
      args.push_back(h);
    }
    auto r = run_ledger(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "0\n1\n2\n3\n4\n5\n6\n7\n");
  }
};

TEST_F(Cli, ReferenceRootsForEverySize) {
  reference_ledger();
  for (std::size_t n = 0; n <= 8; ++n) {
    auto r = run_ledger({"root", dir, "--size", std::to_string(n)});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, kRoots[n] + "\n") << n;
  }
  EXPECT_EQ(run_ledger({"root", dir}).out, kRoots[8] + "\n");
  EXPECT_EQ(run_ledger({"size", dir}).out, "8\n");
  EXPECT_EQ(run_ledger({"get", dir, "--index", "5"}).out, "40414243\n");
  EXPECT_EQ(run_ledger({"get", dir, "--index", "0"}).out, "\n");
}

TEST_F(Cli, ReferenceProofs) {
  reference_ledger();
  auto p = run_ledger({"prove", dir, "--index", "5", "--size", "8"});
  EXPECT_EQ(p.out,
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b\n"
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0\n"
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7\n");
  EXPECT_EQ(run_ledger({"prove", dir, "--index", "2", "--size", "3"}).out,
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125\n");
  EXPECT_EQ(run_ledger({"prove", dir, "--index", "0", "--size", "1"}).out, "");
  auto c = run_ledger({"consistency", dir, "--from", "6", "--to", "7"});
  EXPECT_EQ(c.out,
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a\n"
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f\n"
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7\n");
  EXPECT_EQ(run_ledger({"consistency", dir, "--from", "2", "--to", "5"}).out,
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e\n"
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b\n");
  EXPECT_EQ(run_ledger({"consistency", dir, "--from", "8"}).out, "");
}

TEST_F(Cli, OfflineVerifiersForEveryProofOfTheReferenceTree) {
  reference_ledger();
  for (std::size_t n = 1; n <= 8; ++n) {
    for (std::size_t i = 0; i < n; ++i) {
      auto proof = lines(run_ledger({"prove", dir, "--index", std::to_string(i), "--size", std::to_string(n)}).out);
      std::vector<std::string> args = {"verify-inclusion", "--leaf-hex", kLeafHex[i], "--index", std::to_string(i),
                                       "--size", std::to_string(n), "--root", kRoots[n]};
      args.insert(args.end(), proof.begin(), proof.end());
      auto ok = run_ledger(args);
      EXPECT_EQ(ok.exit_code, 0) << i << "/" << n << ok.out << ok.err;
      EXPECT_EQ(ok.out, "valid\n");
      args[6] = std::to_string(n * 2);  // wrong size (n + 1 can share the shape)
      EXPECT_EQ(run_ledger(args).exit_code, 1) << i << "/" << n;
    }
    for (std::size_t m = 0; m <= n; ++m) {
      auto proof = lines(run_ledger({"consistency", dir, "--from", std::to_string(m), "--to", std::to_string(n)}).out);
      std::vector<std::string> args = {"verify-consistency", "--size1", std::to_string(m), "--size2", std::to_string(n),
                                       "--root1", kRoots[m], "--root2", kRoots[n]};
      args.insert(args.end(), proof.begin(), proof.end());
      auto ok = run_ledger(args);
      EXPECT_EQ(ok.exit_code, 0) << m << "->" << n << ok.out << ok.err;
      if (m > 0 && m < n) {
        std::swap(args[6], args[8]);  // swapped roots
        EXPECT_EQ(run_ledger(args).exit_code, 1) << m << "->" << n;
      }
    }
  }
  // --leaf-hash form, and a flipped proof bit.
  auto leaf = "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658";  // leaf hash of entry 5
  std::vector<std::string> args = {"verify-inclusion", "--leaf-hash", leaf, "--index", "5", "--size", "8", "--root", kRoots[8],
                                   "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                                   "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                                   "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"};
  EXPECT_EQ(run_ledger(args).exit_code, 0);
  args[10][0] = 'd';
  auto bad = run_ledger(args);
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_EQ(bad.out.rfind("invalid", 0), 0u) << bad.out;
}

TEST_F(Cli, InputForms) {
  ASSERT_EQ(run_ledger({"init", dir}).exit_code, 0);
  auto r = run_ledger({"append", dir}, "first\n\nthird\nno newline");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "0\n1\n2\n3\n");
  EXPECT_EQ(run_ledger({"get", dir, "--index", "1"}).out, "\n");
  EXPECT_EQ(run_ledger({"get", dir, "--index", "3"}).out, "6e6f206e65776c696e65\n");
  write_file(tmp / "f.bin", {0xde, 0xad, 0x00, 0xbe, 0xef});
  r = run_ledger({"append", dir, "--file", (tmp / "f.bin").string(), "--hex", "", "--hex", "AB"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "4\n5\n6\n");
  EXPECT_EQ(run_ledger({"get", dir, "--index", "4"}).out, "dead00beef\n");  // command-line order kept
  EXPECT_EQ(run_ledger({"get", dir, "--index", "5"}).out, "\n");
  EXPECT_EQ(run_ledger({"get", dir, "--index", "6"}).out, "ab\n");
  EXPECT_EQ(run_ledger({"verify", dir}).exit_code, 0);
}

TEST_F(Cli, BadInputExitsWithTwoAndChangesNothing) {
  reference_ledger();
  const auto before = run_ledger({"root", dir}).out;
  EXPECT_EQ(run_ledger({"append", dir, "--hex", "abc"}).exit_code, 2);
  EXPECT_EQ(run_ledger({"append", dir, "--hex", "00", "--hex", "zz"}).exit_code, 2);
  EXPECT_EQ(run_ledger({"append", dir, "--file", (tmp / "missing").string()}).exit_code, 2);
  EXPECT_EQ(run_ledger({"root", dir}).out, before);
  EXPECT_EQ(run_ledger({"root", dir, "--size", "9"}).exit_code, 2);
  EXPECT_EQ(run_ledger({"prove", dir, "--index", "8"}).exit_code, 2);
  EXPECT_EQ(run_ledger({"prove", dir, "--index", "-1"}).exit_code, 2);
  EXPECT_EQ(run_ledger({"prove", dir, "--index", "x"}).exit_code, 2);
  EXPECT_EQ(run_ledger({"prove", dir}).exit_code, 2);
  EXPECT_EQ(run_ledger({"consistency", dir, "--from", "5", "--to", "4"}).exit_code, 2);
  EXPECT_EQ(run_ledger({"consistency", dir, "--from", "1", "--to", "9"}).exit_code, 2);
  EXPECT_EQ(run_ledger({"frobnicate"}).exit_code, 2);
  EXPECT_EQ(run_ledger({}).exit_code, 2);
  EXPECT_EQ(run_ledger({"root", (tmp / "nope").string()}).exit_code, 2);
  EXPECT_EQ(run_ledger({"init", dir}).exit_code, 2);
  EXPECT_EQ(run_ledger({"checkpoint", dir}).exit_code, 2);  // no key
  EXPECT_EQ(run_ledger({"verify-inclusion", "--leaf-hash", "00", "--index", "0", "--size", "1", "--root", kRoots[1]}).exit_code, 2);
  EXPECT_EQ(run_ledger({"verify-inclusion", "--index", "0", "--size", "1", "--root", kRoots[1]}).exit_code, 2);
  EXPECT_EQ(run_ledger({"verify-inclusion", "--leaf-hex", "", "--index", "0", "--size", "1", "--root", kRoots[1], "xyz"}).exit_code, 2);
  EXPECT_EQ(run_ledger({"verify-consistency", "--size1", "1", "--size2", "2", "--root1", "00", "--root2", kRoots[2]}).exit_code, 2);
  EXPECT_EQ(run_ledger({"verify", dir}).exit_code, 0);
}

// `append L <&-`: before 77a5572 the first file the ledger opened took fd 0
// and was read as the entries; from 77a5572 a closed stdin was /dev/null
// read-only and read as empty, exit 0. fd 0 is now /dev/null write-only: the
// read fails with EBADF, as on the closed fd, and the ledger is unchanged.
TEST_F(Cli, AppendFromAClosedStdinFailsAndChangesNothing) {
  reference_ledger();
  const auto before = run_ledger({"root", dir}).out;
  const auto r = airssys::testing::run({"/bin/sh", "-c", R"(exec "$0" append "$1" <&-)", ledger_bin(), dir});
  EXPECT_NE(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("Bad file descriptor"), std::string::npos) << r.err;
  EXPECT_EQ(run_ledger({"size", dir}).out, "8\n");
  EXPECT_EQ(run_ledger({"root", dir}).out, before);
  EXPECT_EQ(run_ledger({"verify", dir}).exit_code, 0);
}

TEST_F(Cli, CheckpointsAndTamperDetection) {
  const auto key = (tmp / "signing.pem").string();
  auto init = run_ledger({"init", dir, "--key", key});
  ASSERT_EQ(init.exit_code, 0) << init.err;
  EXPECT_EQ(file_mode(key), 0600u);
  EXPECT_EQ(file_mode(key + ".pub"), 0600u);
  std::string input;
  for (int i = 0; i < 20; ++i) input += "audit record " + std::to_string(i) + "\n";
  ASSERT_EQ(run_ledger({"append", dir}, input).exit_code, 0);
  auto cp = run_ledger({"checkpoint", dir});
  ASSERT_EQ(cp.exit_code, 0) << cp.err;
  EXPECT_NE(cp.out.find("\"tree_size\":20"), std::string::npos) << cp.out;
  write_file(tmp / "sth.json", bytes(cp.out));
  EXPECT_EQ(run_ledger({"verify-checkpoint", "--pubkey", key + ".pub", (tmp / "sth.json").string()}).exit_code, 0);
  auto v = run_ledger({"verify", dir, "--pubkey", key + ".pub"});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_EQ(v.out.rfind("intact: 20 entries", 0), 0u) << v.out;

  // Change one byte inside entry 13's payload.
  const std::string rec13 = "audit record 13";
  auto data = read_file(tmp / "l" / "entries");
  const std::string text(data.begin(), data.end());
  const auto at = text.find(rec13);
  ASSERT_NE(at, std::string::npos);
  data[at + rec13.size() - 1] ^= 0x01;
  write_file(tmp / "l" / "entries", data);
  v = run_ledger({"verify", dir, "--pubkey", key + ".pub"});
  EXPECT_EQ(v.exit_code, 1);
  EXPECT_NE(v.out.find("first bad index 13"), std::string::npos) << v.out;
  // Reading commands refuse nothing here (the head and tree are intact) but
  // a writer does not hide the damage either: verify keeps reporting it.
  EXPECT_EQ(run_ledger({"verify", dir}).exit_code, 1);
}

// Output that cannot be written, by the rule of every CLI here: a reader
// that went away ends a command that would exit 0 by SIGPIPE (141), quietly,
// and leaves one that failed its code (`verify` of a tampered ledger: 1);
// any other failure is the ledger's I/O code, 2, with the reason. `append`
// from stdin appends nothing more once a commit's indices cannot be
// printed. Before, `append DIR >&-` and `> /dev/full` appended, printed
// nothing and exited 0, as did `verify > /dev/full`; a reader gone killed
// `verify` of a tampered ledger (141, not 1).
TEST_F(Cli, OutputThatCannotBeWrittenEndsTheCommandAsTheOtherCLIsDo) {
  reference_ledger();
  auto full = [&](const std::vector<std::string>& args) {
    std::vector<std::string> argv{ledger_bin()};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto err = tmp / "full.err";
    std::filesystem::remove(err);
    ::airssys::testing::Child c(argv, {.stdout_path = "/dev/full", .stderr_path = err});
    const auto code = c.wait();
    return RunResult{code.value_or(-1), "", airssys::testing::read_file(err)};
  };
  auto closed = [&](const std::vector<std::string>& args) {
    std::vector<std::string> argv{"/bin/sh", "-c", R"("$@" >&-)", "sh", ledger_bin()};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto r = airssys::testing::run(argv);
    return RunResult{r.status, r.out, r.err};
  };
  // A pipe whose reader has gone; stdin from `in` when it is not -1.
  auto gone_reader = [&](const std::vector<std::string>& args, int in = -1) {
    std::vector<std::string> argv{ledger_bin()};
    argv.insert(argv.end(), args.begin(), args.end());
    int p[2];
    EXPECT_EQ(::pipe2(p, O_CLOEXEC), 0);
    ::close(p[0]);
    const auto err = tmp / "gone.err";
    std::filesystem::remove(err);
    ::airssys::testing::Child c(argv, {.stderr_path = err, .stdin_fd = in, .stdout_fd = p[1]});
    ::close(p[1]);
    const auto code = c.wait(std::chrono::seconds(60));
    return RunResult{code.value_or(-1), "", airssys::testing::read_file(err)};
  };
  const std::string enospc = "airssys-ledger: io: writing standard output: No space left on device\n";
  const std::string ebadf = "airssys-ledger: io: writing standard output: Bad file descriptor\n";

  // The commit is durable before its indices are printed: the entries are
  // there, and the message says so, so that a script does not append them
  // again (before: only "writing standard output: REASON").
  auto r = full({"append", dir, "--hex", "aa"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "airssys-ledger: io: entry appended as index 8 (do not append it again); writing standard output: "
                   "No space left on device\n");
  r = closed({"append", dir, "--hex", "bb", "--hex", "cc"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "airssys-ledger: io: entries appended as indices 9..10 (do not append them again); writing standard "
                   "output: Bad file descriptor\n");
  EXPECT_EQ(run_ledger({"size", dir}).out, "11\n");
  EXPECT_EQ(run_ledger({"get", dir, "--index", "10"}).out, "cc\n");
  for (const std::vector<std::string>& args : {std::vector<std::string>{"verify", dir}, {"size", dir}, {"root", dir},
                                               {"prove", dir, "--index", "5"}, {"get", dir, "--index", "9"}}) {
    r = full(args);
    EXPECT_EQ(r.exit_code, 2) << args[0];
    EXPECT_EQ(r.err, enospc) << args[0];
    r = closed(args);
    EXPECT_EQ(r.exit_code, 2) << args[0];
    EXPECT_EQ(r.err, ebadf) << args[0];
    r = gone_reader(args);
    EXPECT_EQ(r.exit_code, 128 + SIGPIPE) << args[0] << ": " << r.err;
    EXPECT_EQ(r.err, "") << args[0];
  }

  // From stdin: the first commit's indices cannot be printed, so append
  // stops there, with stdin still open (before: killed by SIGPIPE).
  int in[2];
  ASSERT_EQ(::pipe2(in, O_CLOEXEC), 0);
  ASSERT_EQ(::write(in[1], "first\n", 6), 6);
  r = gone_reader({"append", dir}, in[0]);
  ::close(in[0]);
  ::close(in[1]);
  EXPECT_EQ(r.exit_code, 128 + SIGPIPE) << r.err;
  EXPECT_EQ(run_ledger({"size", dir}).out, "12\n");
  EXPECT_EQ(run_ledger({"get", dir, "--index", "11"}).out, "6669727374\n");  // "first"

  // A command that failed keeps its code: verify of a tampered ledger is 1.
  auto data = read_file(tmp / "l" / "entries");
  data.back() ^= 0x01;
  write_file(tmp / "l" / "entries", data);
  ASSERT_EQ(run_ledger({"verify", dir}).exit_code, 1);
  r = gone_reader({"verify", dir});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.err, "");
  r = full({"verify", dir});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, enospc);
}

}  // namespace
}  // namespace airssys::ledger::testing
