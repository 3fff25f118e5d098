#pragma once
// airssys-ledger's input readers: files and standard input, read with a size
// bound so an endless source (/dev/zero, a runaway pipe) fails with a clear
// error at the bound instead of growing memory until the process dies, and
// in linear time however long a line is.

#include <airssys/ledger/error.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace airssys::ledger::cli {

// The whole contents of `path`, at most `limit` bytes; `what` names the limit
// in the error ("the maximum entry size"). Only regular files and pipes
// (FIFOs) are read; directories, devices and sockets are refused by type.
[[nodiscard]] Result<std::vector<std::uint8_t>> read_bounded(const std::string& path, std::uint64_t limit,
                                                             const std::string& what);

// Standard input until EOF, at most `limit` bytes.
[[nodiscard]] Result<std::vector<std::uint8_t>> read_stdin_bounded(std::uint64_t limit, const std::string& what);

// Splits standard input into lines (without their '\n'; a last line without
// one counts too) and hands every read's complete lines to `on_lines` as one
// group. A line longer than `max_line` fails. Each byte is scanned once.
using LinesHandler = std::function<Result<void>(const std::vector<std::vector<std::uint8_t>>&)>;
[[nodiscard]] Result<void> read_stdin_lines(std::uint64_t max_line, const LinesHandler& on_lines);

}  // namespace airssys::ledger::cli
