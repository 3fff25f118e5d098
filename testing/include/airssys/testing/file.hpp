#pragma once
// Whole-file read and write for tests: what a program under test wrote, and
// the inputs a test puts on disk.

#include <filesystem>
#include <string>
#include <string_view>

namespace airssys::testing {

// The file's bytes; "" when it is empty or cannot be opened or read (a test
// then fails on what it expected to find, naming the content, not an
// exception). A read can fail after the open: /proc/PID files of a process
// that ends meanwhile give ESRCH, which std::filebuf throws as an exception
// whatever the stream's mask; here that is "" too, as for a process gone
// before the open.
[[nodiscard]] std::string read_file(const std::filesystem::path& path);

// Replaces the file's content with `text` (created with the umask's mode).
void write_file(const std::filesystem::path& path, std::string_view text);

}  // namespace airssys::testing
