#pragma once
// HostAccounts — procmond's reader of the host's passwd and group files for
// the users and groups tables (docs/daemoneye.md "users", "groups"): each
// collection stats both files and reads again only the one that changed
// (AccountFile, accounts.hpp). A file that cannot be read keeps its last
// rows, is said once on stderr (again only when the reason changes), and
// its reason is in procmond's status (`accounts.error`); one never read
// leaves its table as the agent has it.
//
// Not thread-safe: procmond's collection loop uses it.

#include <airssys/daemoneye/accounts.hpp>
#include <airssys/daemoneye/events.hpp>
#include <airssys/daemoneye/snapshot_chunks.hpp>

#include <filesystem>
#include <functional>
#include <string>

namespace airssys::daemoneye {

class HostAccounts {
 public:
  HostAccounts(std::filesystem::path passwd, std::filesystem::path group, std::function<void(const std::string&)> say)
      : passwd_(std::move(passwd)), group_(std::move(group)), say_(std::move(say)) {}

  // Refreshes both files; the rows to publish with this collection.
  [[nodiscard]] SnapshotAccounts refresh();
  [[nodiscard]] const AccountCounters& counters() const noexcept { return counters_; }

 private:
  AccountFile<UserAccount> passwd_;
  AccountFile<GroupAccount> group_;
  std::function<void(const std::string&)> say_;
  std::string said_;  // the last error said, so a lasting one is said once
  AccountCounters counters_;
};

}  // namespace airssys::daemoneye
