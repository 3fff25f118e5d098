#pragma once
// Test helper: a private temporary directory (0700, removed with everything
// in it when the test ends) and whole-file read/write, for the daemoneye
// library's unit tests.

#include <airssys/testing/file.hpp>
#include <airssys/testing/temp_dir.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace airssys::daemoneye::testing {

using TempDir = ::airssys::testing::TempDir;

using ::airssys::testing::read_file;
using ::airssys::testing::write_file;

}  // namespace airssys::daemoneye::testing
