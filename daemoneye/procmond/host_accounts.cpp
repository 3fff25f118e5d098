#include "host_accounts.hpp"

namespace airssys::daemoneye {

SnapshotAccounts HostAccounts::refresh() {
  std::string error;
  const auto one = [&](auto& file) {
    if (auto r = file.refresh(); !r) error += (error.empty() ? "" : "; ") + r.error().message;
  };
  one(passwd_);
  one(group_);
  if (!error.empty() && error != said_) say_("accounts: " + error + " (the last rows read are kept)");
  if (error.empty() && !said_.empty()) say_("accounts: both files read again");
  said_ = error;

  SnapshotAccounts out;
  counters_ = AccountCounters{.reads = passwd_.reads() + group_.reads(), .error = error};
  if (const auto& u = passwd_.rows()) {
    out.users = u->rows;
    counters_.users = u->rows.size();
    counters_.skipped += u->skipped;
    counters_.capped += u->capped ? 1 : 0;
  }
  if (const auto& g = group_.rows()) {
    out.groups = g->rows;
    counters_.groups = g->rows.size();
    counters_.skipped += g->skipped;
    counters_.capped += g->capped ? 1 : 0;
  }
  return out;
}

}  // namespace airssys::daemoneye
