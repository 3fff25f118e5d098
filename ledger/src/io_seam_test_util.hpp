#pragma once
// For the fault tests: routes the ledger's durability calls (fd.hpp's
// IoHooks) through osl::io while alive, so osl::io::FaultInjection can make
// them fail, come back short, or lose unsynced data on crash().

#include "fd.hpp"

#include <airssys/osl/file_io.hpp>

namespace airssys::ledger::testing {

class SeamInstalled {
 public:
  SeamInstalled() { detail::set_io_hooks(&hooks_); }
  ~SeamInstalled() { detail::set_io_hooks(nullptr); }
  SeamInstalled(const SeamInstalled&) = delete;
  SeamInstalled& operator=(const SeamInstalled&) = delete;

 private:
  static constexpr detail::IoHooks hooks_{
      .pwrite = [](int fd, const void* d, std::size_t n, off_t off) noexcept {
        return osl::io::pwrite(fd, d, n, off);
      },
      .fdatasync = [](int fd) noexcept { return osl::io::fdatasync(fd); },
      .fsync = [](int fd) noexcept { return osl::io::fsync(fd); },
      .ftruncate = [](int fd, off_t length) noexcept { return osl::io::ftruncate(fd, length); },
  };
};

}  // namespace airssys::ledger::testing
