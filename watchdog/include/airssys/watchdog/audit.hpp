#pragma once
// task-watchdog's audit trail. Every airssys-osl operation task-watchdog
// makes — forking a monitor, spawning a task, each signal and kill, each
// cgroup made, joined, killed or removed — leaves osl's start and end
// records (docs/osl.md, "Activity records") in <registry dir>/audit.jsonl
// (0600, JSON lines) and, with `--audit-ledger DIR`, also in an
// airssys-ledger there, as `airssys-osl --audit-ledger` does.
//
// Several processes write the trail at once (the CLI, every task's monitor,
// the `run` daemon): the file is opened O_APPEND and never rotated by
// task-watchdog (logrotate's copytruncate works), and the ledger is opened
// for each batch and closed again, waiting while another process holds its
// writer lock.

#include <airssys/osl/system.hpp>
#include <airssys/watchdog/error.hpp>

#include <expected>
#include <filesystem>

namespace airssys::watchdog {

// The ledger directory every System made from now on also writes to (empty:
// none). Set once by the CLI before any System exists; the monitors it
// forks inherit it.
void set_audit_ledger(std::filesystem::path dir);

// The audit sinks for a System whose registry lives in `state_dir`.
[[nodiscard]] std::expected<osl::AuditOptions, Error> audit_options(const std::filesystem::path& state_dir);

}  // namespace airssys::watchdog
