#pragma once
// Whether the agent may trust a path: run the program there, write its
// alerts and ledger there, read a key or credentials from there. Whoever can
// write a file, or replace it through a directory above it, decides what
// the agent runs, where its alerts go, and which keys it believes.
//
// The rule (one for every such path, the rules directory and trusted keys
// included): the entry and each directory above it are owned by the agent's
// user or root, and writable by no one else. A directory above it may be
// writable by others only when it is sticky and owned by us or root (/tmp,
// /var/tmp): there an entry can be replaced only by its owner, and the entry
// itself is held to the rule. A symbolic link on the way is judged by its
// owner (its mode means nothing) and the path it resolves to is checked too.

#include <airssys/daemoneye/config.hpp>
#include <airssys/daemoneye/error.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <string_view>

namespace airssys::daemoneye {

// The rule for one entry already stat'ed (fstat of an open file, so that
// the check and the use are the same file): denied when `st` is owned by
// another user than us or root, or is writable by its group or everyone.
//   "refusing <what>: it is writable by everyone (mode 0666); only its owner
//    may write it (e.g. chmod go-w)"
//   "refusing <what>: owned by uid 65534, not by us (0) or root"
[[nodiscard]] Result<void> check_owner_and_mode(const struct stat& st, std::string_view what);

// Whether check_trusted_path accepts a path that is not (all) there.
//  - allowed: for what the agent creates or opens itself and then checks
//    on the descriptor (fstat + check_owner_and_mode), or only reads.
//  - refused: for what is used by name after the check, with nothing of
//    ours between (procmond.path, execed by airssys-osl). A missing entry
//    below a sticky directory (/tmp) passes the rule, and anyone may
//    create it there after the check; once every component exists and
//    passes, no one but root or our user can remove or replace any of them.
//    "<key>: <path> does not exist" (not_found, errno ENOENT/ENOTDIR), with
//    " (<component> is missing)" when a directory above it is missing.
enum class Missing { allowed, refused };

// The rule for `path` and every directory above it (lstat, no file opened).
// With Missing::allowed what does not exist (yet) is not judged: the
// directories above it are, and whoever creates it later is the agent (or a
// refusal when it is opened and fstat'ed) — except in a directory others
// may write (a sticky one such as /tmp passes for an entry of ours): a
// missing entry there is refused (denied), as anyone could create it first.
// denied names the entry refused: "<key>: refusing <path>: ..." for the
// entry, "<key>: refusing directory <dir> above <path>: ..." for a parent.
// A stat that fails otherwise than ENOENT/ENOTDIR keeps its errno's category.
[[nodiscard]] Result<void> check_trusted_path(const std::filesystem::path& path, std::string_view key,
                                              Missing missing = Missing::allowed);

// Creates what is missing of `dir` (each component mode 0700, as mkdir -p
// does), then holds `dir` and every directory above it to the rule. A
// directory absent when the start checked it may have been made since by
// another user (in a sticky directory above it, such as /tmp), and mkdir's
// EEXIST says nothing of whose it is: the check after the mkdir is what
// makes it safe to write in `dir` (once the whole chain is ours or root's
// and writable by no one else, no one else can change it). Refusals as
// check_trusted_path's; a mkdir that fails: "cannot create directory D".
[[nodiscard]] Result<void> make_trusted_dir(const std::filesystem::path& dir, std::string_view key);

// The read half of the rule for a secret the agent reads (NATS
// credentials, a TLS private key; check_trusted_path is the write half), as
// ssh's for a private key: no one but its owner may read it. Readable by everyone is refused; readable
// by its group only when the agent is not root, the file is root's and the
// agent's own group is the file's (its egid, not a supplementary group:
// root:daemoneye 0640 where the group daemoneye has no other member). The
// file (a symbolic link followed) is stat'ed; a missing one is not judged
// (its opener reports it). A safe file the agent cannot read (a non-root
// agent, root's 0600 file) is refused too, so that it is said at start.
//   "<key>: refusing <path>: it is a secret and readable by everyone (mode
//    0644); only its owner may read it (chmod 600 <path>)"
//   "<key>: the agent (uid 998) cannot read <path> (owned by uid 0, group 0,
//    mode 0600)"
// A stat that fails otherwise than ENOENT/ENOTDIR keeps its errno's category.
[[nodiscard]] Result<void> check_secret_file(const std::filesystem::path& path, std::string_view key);

// check_secret_file for every secret `config` names: each nats sink's and
// events.nats' credentials and tls_key, and with live_query enabled its
// credentials and tls_key (public keys, certificates and CA bundles are not
// secrets). A refusal is invalid_input. The agent's start (through
// check_config_paths) and its reload (SIGHUP) call it.
[[nodiscard]] Result<void> check_config_secrets(const Config& config);

// A refusal by the owner/mode rule (denied, no errno) as a configuration
// error (invalid_input: the agent exits 2); any other error, e.g. EACCES
// while looking, is returned as it is.
[[nodiscard]] Error as_config_error(Error e);

// Every path of `config` the agent runs, writes or trusts, by
// check_trusted_path: database.path's directory, rules.dir (its parents: the
// directory itself is load_rules'), ledger.dir, bus.socket's directory,
// procmond.path, each file sink's path, each nats sink's and events.nats'
// credentials, tls_ca, tls_cert, tls_key and spool directory, and, with
// live_query enabled, its trusted keys, credentials and TLS files; then
// check_config_secrets. An unsafe one is invalid_input (the agent exits 2:
// a configuration error a restart does not fix).
[[nodiscard]] Result<void> check_config_paths(const Config& config);

}  // namespace airssys::daemoneye
