#pragma once
// Test helpers: a temporary directory that removes itself, and small file
// manipulations used to simulate crashes and tampering.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <airssys/testing/temp_dir.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

namespace airssys::ledger::testing {

using TempDir = ::airssys::testing::TempDir;

inline std::vector<std::uint8_t> read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Makes the file hold exactly `data`: written over in place, then cut to its
// size (created 0666 & ~umask if missing, as std::ofstream does). Not O_TRUNC:
// ext4 flushes a file truncated to zero and rewritten when it is closed
// (auto_da_alloc), ~10 ms each, which the tamper loops (verify_test: every
// bit of every stored file) paid twice per byte.
inline void write_file(const std::filesystem::path& p, const std::vector<std::uint8_t>& data) {
  const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) throw std::runtime_error("open " + p.string() + " failed");
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::pwrite(fd, data.data() + done, data.size() - done, static_cast<off_t>(done));
    if (n <= 0) {
      ::close(fd);
      throw std::runtime_error("write " + p.string() + " failed");
    }
    done += static_cast<std::size_t>(n);
  }
  const bool cut = ::ftruncate(fd, static_cast<off_t>(data.size())) == 0;
  ::close(fd);
  if (!cut) throw std::runtime_error("ftruncate " + p.string() + " failed");
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
