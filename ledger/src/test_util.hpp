#pragma once
// Test helpers: a temporary directory that removes itself, and small file
// manipulations used to simulate crashes and tampering.

#include <sys/stat.h>
#include <unistd.h>

#include <airssys/testing/temp_dir.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace airssys::ledger::testing {

using TempDir = ::airssys::testing::TempDir;

inline std::vector<std::uint8_t> read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_file(const std::filesystem::path& p, const std::vector<std::uint8_t>& data) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

inline void append_file(const std::filesystem::path& p, const std::vector<std::uint8_t>& data) {
  std::ofstream out(p, std::ios::binary | std::ios::app);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

inline void flip_bit(const std::filesystem::path& p, std::size_t offset, unsigned bit) {
  auto data = read_file(p);
  data.at(offset) ^= static_cast<std::uint8_t>(1u << bit);
  write_file(p, data);
}

inline unsigned file_mode(const std::filesystem::path& p) {
  struct stat st {};
  if (::lstat(p.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

inline std::vector<std::uint8_t> bytes(std::string_view s) { return {s.begin(), s.end()}; }

}  // namespace airssys::ledger::testing
