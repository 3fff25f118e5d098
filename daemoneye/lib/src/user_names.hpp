#pragma once
// UserNames — uid → user name through getpwuid_r (NSS: files, LDAP, sssd…),
// cached because NSS lookups can be slow and a host has few distinct uids.
// Unknown uids are cached as "". Private to the collector; one thread.

#include <sys/types.h>

#include <string>
#include <unordered_map>

namespace airssys::daemoneye {

class UserNames {
 public:
  [[nodiscard]] const std::string& name(uid_t uid);
  void clear() noexcept { cache_.clear(); }
  [[nodiscard]] std::size_t size() const noexcept { return cache_.size(); }

 private:
  std::unordered_map<uid_t, std::string> cache_;
};

}  // namespace airssys::daemoneye
