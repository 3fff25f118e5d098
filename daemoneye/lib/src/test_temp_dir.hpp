#pragma once
// Test helper: a private temporary directory (0700, removed with everything
// in it when the test ends) and whole-file read/write, for the daemoneye
// library's unit tests.

#include <airssys/testing/temp_dir.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace airssys::daemoneye::testing {

using TempDir = ::airssys::testing::TempDir;

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_file(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

}  // namespace airssys::daemoneye::testing
