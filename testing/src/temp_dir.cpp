#include <airssys/testing/temp_dir.hpp>

#include <stdlib.h>

#include <cstdlib>
#include <stdexcept>
#include <system_error>

namespace airssys::testing {

TempDir::TempDir(std::string_view prefix) {
  const char* base = std::getenv("TMPDIR");
  std::filesystem::path dir = base != nullptr && *base != '\0' ? base : "/tmp";
  std::string templ = (dir / (std::string(prefix) + "-XXXXXX")).string();
  if (::mkdtemp(templ.data()) == nullptr) {
    throw std::runtime_error("TempDir: mkdtemp(" + templ + ") failed: " + std::generic_category().message(errno));
  }
  std::error_code ec;
  path_ = std::filesystem::canonical(templ, ec);
  if (ec) path_ = templ;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace airssys::testing
