#include "user_names.hpp"

#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace airssys::daemoneye {

namespace {

std::string lookup(uid_t uid) {
  const long hint = ::sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buf(hint > 0 ? static_cast<std::size_t>(hint) : 16384);
  for (int tries = 0; tries < 6; ++tries) {
    passwd pw{};
    passwd* result = nullptr;
    const int rc = ::getpwuid_r(uid, &pw, buf.data(), buf.size(), &result);
    if (rc == ERANGE) {
      buf.resize(buf.size() * 2);
      continue;
    }
    if (rc == EINTR) continue;
    return (rc == 0 && result && result->pw_name) ? std::string(result->pw_name) : std::string();
  }
  return {};
}

}  // namespace

const std::string& UserNames::name(uid_t uid) {
  static const std::string kUnknownYet;
  if (auto it = cache_.find(uid); it != cache_.end()) return it->second;
  if (lookups_ >= lookups_per_collection_) {
    ++deferred_;
    return kUnknownYet;
  }
  ++lookups_;
  if (cache_.size() >= max_entries_) cache_.clear();
  return cache_.emplace(uid, lookup(uid)).first->second;
}

}  // namespace airssys::daemoneye
