#pragma once
// A private temporary directory for one test: created 0700 by mkdtemp under
// $TMPDIR (or /tmp), its path canonical (so policies and paths the code
// under test resolves compare equal), removed with everything in it when the
// object goes. Throws std::runtime_error if it cannot be created: a test
// without its directory cannot mean anything.

#include <filesystem>
#include <string>
#include <string_view>

namespace airssys::testing {

class TempDir {
 public:
  // `prefix` names the directory (e.g. "osl-fs"), so a leftover one after a
  // crash says which suite left it.
  explicit TempDir(std::string_view prefix = "airssys-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  [[nodiscard]] std::string str() const { return path_.string(); }
  [[nodiscard]] std::filesystem::path operator/(const std::filesystem::path& rel) const { return path_ / rel; }

 private:
  std::filesystem::path path_;
};

}  // namespace airssys::testing
