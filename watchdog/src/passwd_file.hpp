#pragma once
// A user's name from a passwd(5) file, read directly, never through NSS.
//
// Why: the release task-watchdog is linked static (watchdog/CMakeLists.txt).
// There getpwuid_r on a uid that /etc/passwd does not know goes on to the
// next nsswitch.conf source (`systemd`, `ldap`, …), which the static libc
// can only dlopen together with a second libc.so.6 whose thread-local
// storage is never set up: the program crashed (SIGSEGV) when run by such a
// user (a container's --user 1000, DynamicUser=, an LDAP account). A static
// program therefore reads /etc/passwd itself and names other users `uid-N`.

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>

namespace airssys::watchdog {

// The name of the first entry of `file` whose uid is `uid`, like the NSS
// `files` source: lines it cannot parse (too few fields, a uid that is not a
// number) and comments are skipped, and so are entries with an empty name
// and NIS compat entries (`+name`, `-name`, `+`), which name no local user.
// nullopt when no entry matches or the file cannot be read: it is opened
// without following a symlink (O_NOFOLLOW), must be a regular file of at
// most kPasswdFileMaxBytes (a larger one is not read at all; one that grows
// past it while read ends the search), with lines up to kPasswdLineMaxBytes
// (a longer line ends the search).
[[nodiscard]] std::optional<std::string> user_name_in_passwd_file(const std::filesystem::path& file, uid_t uid);

// user_name_in_passwd_file, or "uid-N" when it gives nothing.
[[nodiscard]] std::string user_name_or_uid(const std::filesystem::path& passwd_file, uid_t uid);

inline constexpr long kPasswdFileMaxBytes = 64L << 20;
inline constexpr std::size_t kPasswdLineMaxBytes = 64U << 10;

}  // namespace airssys::watchdog
