#pragma once
// Reading a file the agent trusts as code (a rule file, a rule exception
// file): the checks load_rules gives each rule file, shared so that rule
// exceptions pass the same ones. Private to the daemoneye library.

#include <airssys/daemoneye/error.hpp>

#include <string>
#include <string_view>

namespace airssys::daemoneye::detail {

// `name` in the directory `dirfd`: not a symbolic link (O_NOFOLLOW), a
// regular file, owned by us or root and writable by no one else
// (check_owner_and_mode, `what` names it: "refusing <what>: ..."), at most
// 1 MiB. Its bytes, or the reason ("cannot open: it is a symbolic link (not
// followed)", "larger than 1 MiB (N bytes)", ...).
[[nodiscard]] Result<std::string> read_trusted_file(int dirfd, const std::string& name, std::string_view what);

}  // namespace airssys::daemoneye::detail
