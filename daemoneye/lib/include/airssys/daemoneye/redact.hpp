#pragma once
// Redaction of secrets in command lines, before they leave procmond.
//
// A process's argv is public to every user of the host (/proc/PID/cmdline),
// but DaemonEye copies it into a database, alerts, webhooks and a fleet: a
// password typed on a command line must not travel further. Values are
// replaced by "***"; the option names stay, so rules can still match them.
//
// What is redacted (option names case-insensitive, '_' and '-' alike):
//  - the value of --password, --passwd, --pass, --passin, --passout,
//    --passphrase, --token, --secret, --api-key, --apikey, --access-key,
//    --secret-key, --private-key, --client-secret, --storepass, --keypass,
//    and of any option ending in -password, -passwd, -pass, -passphrase,
//    -token, -secret, -api-key, -apikey, -access-key, -private-key,
//    -secret-key (--db-password, --auth-token), in both "--opt VALUE" and
//    "--opt=VALUE" forms, with one or two dashes (a VALUE starting with
//    "--" is taken for the next option); not --no-password, not
//    --password-file;
//  - short options only for programs where they mean a password (a blanket
//    -p would hide ports and paths): mysql/mariadb tools -pVALUE (attached;
//    a bare -p prompts), sshpass -p, redis-cli -a, curl -u/-U user:PASS;
//  - user:pass@ in URLs: scheme://user:***@host;
//  - environment-style arguments whose name holds PASSWORD, PASSWD, TOKEN,
//    SECRET, API_KEY, APIKEY, ACCESS_KEY, PRIVATE_KEY, PASSPHRASE:
//    DB_PASSWORD=*** (also as an option's value: -e TOKEN=x, --env=TOKEN=x);
//  - openssl-style pass:VALUE;
//  - HTTP headers Authorization: Bearer *** and X-Api-Key: ***.
// An argument holding spaces (sh -c "mysql -pX …") is split into words
// (quotes respected) and the same rules apply to its words.
//
// Thread safety: pure functions.

#include <span>
#include <string>
#include <string_view>

namespace airssys::daemoneye {

inline constexpr std::string_view kRedacted = "***";

// argv joined with single spaces, secrets replaced by "***".
[[nodiscard]] std::string redact_cmdline(std::span<const std::string_view> argv);

// Put in the `cmdline` column where its middle was left out.
inline constexpr std::string_view kCmdlineCut = " \u2026 ";  // " … "

// The `cmdline` column from argv as the kernel keeps it (NUL-separated, as
// in /proc/PID/cmdline or as eBPF copies it): trailing empty arguments
// (setproctitle padding) dropped; when `truncated` (only the first part of
// argv was read) a cut last argument holding "://" is dropped, since a URL
// cut before its '@' would escape redaction; secrets redacted; then, when
// longer than `max` bytes, its head and its tail are kept around kCmdlineCut
// (each cut at a UTF-8 boundary, `max` bytes in all): padding in the middle
// of a command line (40 KB of spaces before `; : /dev/tcp/…`) cannot push
// what follows it out of the column. Invalid UTF-8 is kept as bytes (the
// JSON encoders replace it).
[[nodiscard]] std::string cmdline_column(std::string_view raw_args, bool truncated, std::size_t max);

// The same for argv read in two parts because it was too long to read whole
// (procmond's eBPF exec event): its first bytes `head` and its last bytes
// `tail`, which may begin inside an argument. The head is treated as a cut
// argv (above); the tail's first word (up to the first space or NUL) is a
// fragment and is dropped — it may be the end of a secret or of a URL's
// credentials whose start was not read. What remains of both is redacted and
// joined around kCmdlineCut, then kept to `max` bytes as above. The tail is
// redacted with the head's argv[0] as its program; when the fragment may end
// a secret option's name ("ssword" of --password), or the tail begins on a
// single separator, the first kept argument is masked too (errs on masking).
[[nodiscard]] std::string cmdline_column_cut(std::string_view head, std::string_view tail, std::size_t max);

// `s` kept to at most `max` bytes: whole when it fits, else its head and tail
// around kCmdlineCut, each cut at a UTF-8 boundary.
void keep_head_and_tail(std::string& s, std::size_t max);

}  // namespace airssys::daemoneye
