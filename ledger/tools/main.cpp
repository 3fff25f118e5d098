// airssys-ledger — command-line front end of airssys::ledger.
// Exit codes: 0 ok / valid / intact, 1 invalid proof or tampered ledger,
// 2 usage or input error (bad arguments, malformed hex, missing files, I/O,
// output that cannot be written), 141 (SIGPIPE) stdout's reader went away.

#include <airssys/ledger/checkpoint.hpp>
#include <airssys/ledger/ledger.hpp>
#include <airssys/ledger/merkle.hpp>
#include <airssys/ledger/verify.hpp>

#include <csignal>
#include <cstdio>
#include <exception>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <airssys/osl/detail/empty_option_value.hpp>
#include <airssys/osl/detail/standard_fds.hpp>
#include <airssys/osl/detail/stdout_write.hpp>
#include <airssys/osl/duration.hpp>

#include "input.hpp"

namespace L = airssys::ledger;
using airssys::osl::detail::stdout_write_failure;
using airssys::osl::detail::write_stdout;

namespace {

constexpr int kOk = 0, kInvalid = 1, kUsage = 2;

int report(const L::Error& e) {
  std::cerr << "airssys-ledger: " << e.to_string() << "\n";
  return e.category == L::ErrorCategory::corrupt || e.category == L::ErrorCategory::invalid_proof ? kInvalid : kUsage;
}

void print_warnings(const L::Ledger& l) {
  for (const auto& w : l.warnings()) std::cerr << "airssys-ledger: warning: " << w << "\n";
}

L::Result<std::unique_ptr<L::Ledger>> open_ro(const std::string& dir) {
  auto l = L::Ledger::open(dir, L::OpenOptions{.read_only = true});
  if (l) print_warnings(**l);
  return l;
}

L::Result<std::vector<L::Hash>> parse_hashes(const std::vector<std::string>& hexes, std::string_view what) {
  std::vector<L::Hash> out;
  for (std::size_t i = 0; i < hexes.size(); ++i) {
    auto h = L::hash_from_hex(hexes[i]);
    if (!h) return L::fail(L::ErrorCategory::invalid_argument, fmt::format("{} {}: {}", what, i + 1, h.error().message));
    out.push_back(*h);
  }
  return out;
}

void print_hashes(const std::vector<L::Hash>& hs) {
  std::string out;
  for (const auto& h : hs) out += L::to_hex(h) + "\n";
  write_stdout(out);
}

constexpr std::string_view kStdoutFailed = "airssys-ledger: io: writing standard output: ";

// Appends `entries` in one commit, prints their indices. Whether they were
// printed: stdout_write_failure(); when they were not, `stdout_failed`
// says they are in the ledger all the same, so that a script reading exit
// 2 does not append them again ("entries appended as indices 10..11 (do
// not append them again); writing standard output: REASON").
int append_and_print(L::Ledger& ledger, const std::vector<std::vector<std::uint8_t>>& entries, std::string& stdout_failed) {
  if (entries.empty()) return kOk;
  std::vector<L::ByteView> views(entries.begin(), entries.end());
  auto first = ledger.append_batch(views);
  if (!first) return report(first.error());
  std::string out;
  for (std::size_t i = 0; i < entries.size(); ++i) out += std::to_string(*first + i) + "\n";
  if (!write_stdout(out)) {
    const std::uint64_t last = *first + entries.size() - 1;
    stdout_failed = fmt::format("airssys-ledger: io: {} (do not append {} again); writing standard output: ",
                                last == *first ? fmt::format("entry appended as index {}", last)
                                               : fmt::format("entries appended as indices {}..{}", *first, last),
                                last == *first ? "it" : "them");
  }
  return kOk;
}

// Each stdin line is one entry (without its '\n'); every read that yields
// complete lines becomes one group commit, printed after it is durable.
// Once the indices of a commit cannot be printed (the reader went away, a
// full disk) nothing more is appended: no index is acknowledged that its
// reader did not get, and main ends the command by the write's failure.
int append_stdin(L::Ledger& ledger, std::string& stdout_failed) {
  int rc = kOk;
  auto r = L::cli::read_stdin_lines(L::kMaxEntryBytes, [&](const std::vector<std::vector<std::uint8_t>>& lines) -> L::Result<void> {
    rc = append_and_print(ledger, lines, stdout_failed);
    if (rc != kOk || stdout_write_failure()) return L::fail(L::ErrorCategory::io, "");  // already reported, or main's to say
    return {};
  });
  if (rc != kOk) return rc;
  if (stdout_write_failure()) return kOk;
  if (!r) return report(r.error());
  return kOk;
}

// A count option (decimal, 0 to 2^64-1) that sets `target`.
CLI::Option* add_count(CLI::App* cmd, const std::string& name, std::optional<std::uint64_t>& target,
                       const std::string& description) {
  return cmd->add_option_function<std::string>(
      name,
      [&target, name](const std::string& text) {
        // osl's one number parser: decimal digits only, 0 to 2^64-1, the option named.
        auto v = airssys::osl::parse_whole_number(text, {.what = name});
        if (!v) throw CLI::ValidationError(v.error().message);
        target = *v;
      },
      description);
}

}  // namespace

int main(int argc, char** argv) {
  // `>&-`: no file opened later may take fd 0, 1 or 2 (osl/detail/standard_fds.hpp).
  if (!airssys::osl::detail::open_closed_standard_fds()) return 1;
  // A write to a reader that went away fails with EPIPE instead of killing
  // the command half-way; main's end decides (end_with_stdout_checked).
  std::signal(SIGPIPE, SIG_IGN);
  // What main's end says before the reason when stdout failed; `append`
  // names the entries it appended whose indices could not be printed.
  std::string stdout_failed(kStdoutFailed);
  CLI::App app{"airssys-ledger: tamper-evident append-only log (RFC 6962 / RFC 9162 Merkle tree)"};
  // AIRSSYS_VERSION: the CMake project version (cmake/AirssysInstall.cmake).
  app.set_version_flag("--version", "airssys-ledger " AIRSSYS_VERSION);
  app.require_subcommand(1);
  int rc = kOk;

  // init
  std::string dir, key_file, pubkey_file;
  auto* init = app.add_subcommand("init", "Create an empty ledger in DIR");
  init->add_option("DIR", dir, "ledger directory")->required();
  init->add_option("--key", key_file, "Ed25519 signing key (PEM); created 0600 with KEYFILE.pub if absent");
  init->callback([&] {
    std::optional<L::SigningKey> key;
    bool created_key = false;
    if (!key_file.empty()) {
      std::error_code ec;
      if (std::filesystem::exists(key_file, ec)) {
        auto k = L::SigningKey::load(key_file);
        if (!k) return void(rc = report(k.error()));
        key = std::move(*k);
      } else {
        auto k = L::SigningKey::generate();
        if (!k) return void(rc = report(k.error()));
        key = std::move(*k);
        created_key = true;
      }
    }
    auto ledger = L::Ledger::create(dir);
    if (!ledger) return void(rc = report(ledger.error()));
    if (key) {
      if (created_key) {
        if (auto r = key->save(key_file); !r) return void(rc = report(r.error()));
        if (auto r = L::write_new_file(key_file + ".pub", key->public_key().pem()); !r) return void(rc = report(r.error()));
      }
      if (auto r = L::attach_signing_key(dir, key_file, *key); !r) return void(rc = report(r.error()));
      write_stdout(fmt::format("initialized {} (signing key {}, key id {})\n", dir, key_file,
                               L::to_hex(key->public_key().key_id())));
    } else {
      write_stdout(fmt::format("initialized {}\n", dir));
    }
  });

  // append
  std::vector<std::string> hexes, files;
  auto* append = app.add_subcommand("append", "Append entries; prints the index of each");
  append->add_option("DIR", dir, "ledger directory")->required();
  auto* hex_opt = append->add_option("--hex", hexes, "entry given as hex (\"\" is the empty entry)")->allow_extra_args(false);
  auto* file_opt = append->add_option("--file", files, "entry = contents of PATH")->allow_extra_args(false);
  append->callback([&] {
    std::vector<std::vector<std::uint8_t>> entries;
    std::size_t hi = 0, fi = 0;
    for (const CLI::Option* o : append->parse_order()) {  // keep command-line order
      if (o == hex_opt) {
        auto b = L::from_hex(hexes.at(hi++));
        if (!b) return void(rc = report(L::Error::make(b.error().category, "--hex: " + b.error().message)));
        entries.push_back(std::move(*b));
      } else if (o == file_opt) {
        auto b = L::cli::read_bounded(files.at(fi++), L::kMaxEntryBytes, "the maximum entry size");
        if (!b) return void(rc = report(b.error()));
        entries.push_back(std::move(*b));
      }
    }
    auto ledger = L::Ledger::open(dir);
    if (!ledger) return void(rc = report(ledger.error()));
    print_warnings(**ledger);
    rc = (hexes.empty() && files.empty()) ? append_stdin(**ledger, stdout_failed) : append_and_print(**ledger, entries, stdout_failed);
  });

  // root
  std::optional<std::uint64_t> size_opt;
  auto* root = app.add_subcommand("root", "Print the root hash at the current size or --size N");
  root->add_option("DIR", dir, "ledger directory")->required();
  add_count(root, "--size", size_opt, "tree size (0 gives the empty-tree hash)");
  root->callback([&] {
    auto ledger = open_ro(dir);
    if (!ledger) return void(rc = report(ledger.error()));
    auto r = (*ledger)->root(size_opt.value_or((*ledger)->size()));
    if (!r) return void(rc = report(r.error()));
    write_stdout(L::to_hex(*r) + "\n");
  });

  // prove
  std::optional<std::uint64_t> index;
  auto* prove = app.add_subcommand("prove", "Print the inclusion proof (audit path) of entry I, one hash per line");
  prove->add_option("DIR", dir, "ledger directory")->required();
  add_count(prove, "--index", index, "entry index")->required();
  add_count(prove, "--size", size_opt, "tree size (default: current)");
  prove->callback([&] {
    auto ledger = open_ro(dir);
    if (!ledger) return void(rc = report(ledger.error()));
    auto p = (*ledger)->inclusion_proof(*index, size_opt.value_or((*ledger)->size()));
    if (!p) return void(rc = report(p.error()));
    print_hashes(*p);
  });

  // consistency
  std::optional<std::uint64_t> from;
  std::optional<std::uint64_t> to_opt;
  auto* consistency = app.add_subcommand("consistency", "Print the consistency proof from size M to size N");
  consistency->add_option("DIR", dir, "ledger directory")->required();
  add_count(consistency, "--from", from, "older tree size M")->required();
  add_count(consistency, "--to", to_opt, "newer tree size N (default: current)");
  consistency->callback([&] {
    auto ledger = open_ro(dir);
    if (!ledger) return void(rc = report(ledger.error()));
    auto p = (*ledger)->consistency_proof(*from, to_opt.value_or((*ledger)->size()));
    if (!p) return void(rc = report(p.error()));
    print_hashes(*p);
  });

  // checkpoint
  auto* checkpoint = app.add_subcommand("checkpoint", "Sign the current tree head, store it and print it (JSON)");
  checkpoint->add_option("DIR", dir, "ledger directory")->required();
  checkpoint->add_option("--key", key_file, "signing key (default: the one given to init)");
  checkpoint->callback([&] {
    std::filesystem::path kf = key_file;
    if (kf.empty()) {
      auto attached = L::attached_key_file(dir);
      if (!attached) return void(rc = report(attached.error()));
      kf = *attached;
    }
    auto key = L::SigningKey::load(kf);
    if (!key) return void(rc = report(key.error()));
    auto ledger = open_ro(dir);
    if (!ledger) return void(rc = report(ledger.error()));
    auto sth = L::write_checkpoint(**ledger, *key);
    if (!sth) return void(rc = report(sth.error()));
    write_stdout(sth->to_json() + "\n");
  });

  // verify
  auto* verify = app.add_subcommand("verify", "Recompute every hash; exit 0 intact, 1 tampered (naming the first bad index)");
  verify->add_option("DIR", dir, "ledger directory")->required();
  verify->add_option("--pubkey", pubkey_file, "public key to check checkpoint signatures with");
  verify->callback([&] {
    L::VerifyOptions options;
    if (!pubkey_file.empty()) {
      auto k = L::PublicKey::load(pubkey_file);
      if (!k) return void(rc = report(k.error()));
      options.public_key = *k;
    }
    auto r = L::verify(dir, options);
    if (!r) return void(rc = report(r.error()));
    for (const auto& note : r->notes) std::cerr << "airssys-ledger: note: " << note << "\n";
    if (r->intact) {
      write_stdout(fmt::format("intact: {} entries, root {}, {} checkpoints\n", r->size, L::to_hex(r->root),
                               r->checkpoints_checked));
      return void(rc = kOk);
    }
    if (r->first_bad_index)
      write_stdout(fmt::format("tampered: first bad index {}: {}\n", *r->first_bad_index, r->problem));
    else
      write_stdout(fmt::format("tampered: {}\n", r->problem));
    rc = kInvalid;
  });

  // verify-inclusion
  std::string leaf_hex, leaf_hash_hex, root_hex, root1_hex, root2_hex;
  std::optional<std::uint64_t> tree_size, size1, size2;
  std::vector<std::string> proof_hex;
  auto* vi = app.add_subcommand("verify-inclusion", "Check an inclusion proof offline (RFC 9162 §2.1.3.2)");
  auto* leaf_hex_opt = vi->add_option("--leaf-hex", leaf_hex, "the entry itself, as hex");
  auto* leaf_hash_opt = vi->add_option("--leaf-hash", leaf_hash_hex, "the entry's leaf hash, as hex");
  leaf_hex_opt->excludes(leaf_hash_opt);
  leaf_hash_opt->excludes(leaf_hex_opt);
  add_count(vi, "--index", index, "entry index")->required();
  add_count(vi, "--size", tree_size, "tree size")->required();
  vi->add_option("--root", root_hex, "root hash of the tree of that size")->required();
  vi->add_option("PROOF_HEX", proof_hex, "proof hashes, leaf level first");
  vi->callback([&] {
    if (leaf_hex_opt->count() == 0 && leaf_hash_opt->count() == 0)
      return void(rc = report(L::Error::make(L::ErrorCategory::invalid_argument, "give --leaf-hex or --leaf-hash")));
    L::Hash leaf;
    if (leaf_hex_opt->count() > 0) {
      auto b = L::from_hex(leaf_hex);
      if (!b) return void(rc = report(L::Error::make(b.error().category, "--leaf-hex: " + b.error().message)));
      leaf = L::leaf_hash(*b);
    } else {
      auto h = L::hash_from_hex(leaf_hash_hex);
      if (!h) return void(rc = report(L::Error::make(h.error().category, "--leaf-hash: " + h.error().message)));
      leaf = *h;
    }
    auto r = L::hash_from_hex(root_hex);
    if (!r) return void(rc = report(L::Error::make(r.error().category, "--root: " + r.error().message)));
    auto proof = parse_hashes(proof_hex, "proof hash");
    if (!proof) return void(rc = report(proof.error()));
    if (auto ok = L::verify_inclusion(leaf, *index, *tree_size, *proof, *r); !ok) {
      write_stdout("invalid: " + ok.error().message + "\n");
      return void(rc = kInvalid);
    }
    write_stdout("valid\n");
  });

  // verify-consistency
  auto* vc = app.add_subcommand("verify-consistency", "Check a consistency proof offline (RFC 9162 §2.1.4.2)");
  add_count(vc, "--size1", size1, "older tree size")->required();
  add_count(vc, "--size2", size2, "newer tree size")->required();
  vc->add_option("--root1", root1_hex, "root of the older tree")->required();
  vc->add_option("--root2", root2_hex, "root of the newer tree")->required();
  vc->add_option("PROOF_HEX", proof_hex, "proof hashes");
  vc->callback([&] {
    auto r1 = L::hash_from_hex(root1_hex);
    if (!r1) return void(rc = report(L::Error::make(r1.error().category, "--root1: " + r1.error().message)));
    auto r2 = L::hash_from_hex(root2_hex);
    if (!r2) return void(rc = report(L::Error::make(r2.error().category, "--root2: " + r2.error().message)));
    auto proof = parse_hashes(proof_hex, "proof hash");
    if (!proof) return void(rc = report(proof.error()));
    if (auto ok = L::verify_consistency(*size1, *size2, *proof, *r1, *r2); !ok) {
      write_stdout("invalid: " + ok.error().message + "\n");
      return void(rc = kInvalid);
    }
    write_stdout("valid\n");
  });

  // Extras: get, size, verify-checkpoint.
  auto* get = app.add_subcommand("get", "Print entry I as hex");
  get->add_option("DIR", dir, "ledger directory")->required();
  add_count(get, "--index", index, "entry index")->required();
  get->callback([&] {
    auto ledger = open_ro(dir);
    if (!ledger) return void(rc = report(ledger.error()));
    auto e = (*ledger)->entry(*index);
    if (!e) return void(rc = report(e.error()));
    write_stdout(L::to_hex(*e) + "\n");
  });
  auto* size_cmd = app.add_subcommand("size", "Print the number of committed entries");
  size_cmd->add_option("DIR", dir, "ledger directory")->required();
  size_cmd->callback([&] {
    auto ledger = open_ro(dir);
    if (!ledger) return void(rc = report(ledger.error()));
    write_stdout(fmt::format("{}\n", (*ledger)->size()));
  });
  std::string sth_file;
  auto* vcp = app.add_subcommand("verify-checkpoint", "Check a signed tree head (JSON, from FILE or stdin) offline");
  vcp->add_option("--pubkey", pubkey_file, "public key")->required();
  vcp->add_option("FILE", sth_file, "signed tree head JSON (default: stdin)");
  vcp->callback([&] {
    auto b = sth_file.empty() ? L::cli::read_stdin_bounded(L::kMaxSignedTreeHeadJson, "a signed tree head may be")
                              : L::cli::read_bounded(sth_file, L::kMaxSignedTreeHeadJson, "a signed tree head may be");
    if (!b) return void(rc = report(b.error()));
    const std::string text(b->begin(), b->end());
    auto key = L::PublicKey::load(pubkey_file);
    if (!key) return void(rc = report(key.error()));
    auto sth = L::SignedTreeHead::from_json(text);
    if (!sth) return void(rc = report(sth.error()));
    if (auto ok = L::verify_tree_head(*sth, *key); !ok) {
      write_stdout("invalid: " + ok.error().message + "\n");
      return void(rc = kInvalid);
    }
    write_stdout(fmt::format("valid: size {}, root {}\n", sth->head.tree_size, L::to_hex(sth->head.root)));
  });

  // Before any command's callback runs: `verify --pubkey "$KEY"` with KEY
  // unset checked the checkpoints only against the ledger's own key, `init
  // --key ''` made an unsigned ledger, `checkpoint --key ''` signed with the
  // attached key. '' is refused but where it is an entry: `--hex ""` and
  // `--leaf-hex ""` are the empty entry (documented).
  app.parse_complete_callback([&app] {
    if (const auto empty = airssys::osl::detail::first_empty_option_value(app, {"--hex", "--leaf-hex"})) {
      std::cerr << "airssys-ledger: " << airssys::osl::detail::empty_option_message(*empty) << "\n";
      throw CLI::RuntimeError(kUsage);  // said; app.exit prints nothing more
    }
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    rc = app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    rc = app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    rc = app.exit(e);
  } catch (const CLI::ParseError& e) {
    (void)app.exit(e);
    rc = kUsage;
  } catch (const std::bad_alloc&) {
    std::cerr << "airssys-ledger: out of memory\n";
    rc = kUsage;
  } catch (const std::exception& e) {
    // Nothing in here should throw; if something does, say so instead of aborting.
    std::cerr << "airssys-ledger: internal error: " << e.what() << "\n";
    rc = kUsage;
  }
  // What was printed must reach the reader (before 2026-12-06 `append DIR
  // >&-` or `> /dev/full` appended, printed nothing and exited 0): the rule
  // of every CLI here (osl/detail/stdout_write.hpp). A reader that went
  // away ends a command that would exit 0 by SIGPIPE (141) and leaves
  // another its code; any other failure is 2, the ledger's code for I/O,
  // not 1: that says "tampered" or "invalid proof", which `verify >
  // /dev/full` of an intact ledger is not.
  return airssys::osl::detail::end_with_stdout_checked(rc, kUsage, stdout_failed);
}
