#pragma once
// UserNames — uid → user name through getpwuid_r (NSS: files, LDAP, sssd…),
// cached because NSS lookups can be slow and a host has few distinct uids.
// Unknown uids are cached as "". Private to the collector; one thread.
//
// Bounded for hosts that are not like that (user namespaces map 65,536
// subuids each, and each lookup may be a network round trip to LDAP): at
// most `max_entries` names are cached (past that the cache starts afresh),
// and at most `lookups_per_collection` NSS lookups are made between two
// begin_collection() calls; past that a uid not cached gets "" this time,
// uncached, and is looked up in a later collection.

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>

namespace airssys::daemoneye {

class UserNames {
 public:
  explicit UserNames(std::size_t max_entries = 4096, std::size_t lookups_per_collection = 256)
      : max_entries_(max_entries == 0 ? 1 : max_entries), lookups_per_collection_(lookups_per_collection) {}
  [[nodiscard]] const std::string& name(uid_t uid);
  void begin_collection() noexcept { lookups_ = 0; }
  void clear() noexcept { cache_.clear(); }
  [[nodiscard]] std::size_t size() const noexcept { return cache_.size(); }
  // Lookups refused for the budget since construction.
  [[nodiscard]] std::uint64_t deferred() const noexcept { return deferred_; }

 private:
  std::size_t max_entries_, lookups_per_collection_;
  std::size_t lookups_ = 0;
  std::uint64_t deferred_ = 0;
  std::unordered_map<uid_t, std::string> cache_;
};

}  // namespace airssys::daemoneye
