// airssys-osl fs read | write | list | stat | delete | mkdir

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common.hpp"

#include <airssys/osl/detail/stderr_message.hpp>
#include <airssys/osl/utc_time.hpp>

namespace airssys::osl::cli {

namespace {

struct FsOptions {
  CommonOptions common;
  std::string path;
  std::optional<std::string> data;  // fs write: DATA, else stdin
  bool append = false;
  bool atomic = false;
  bool json = false;
  bool recursive = false;
  bool no_follow = false;
};

// JSON text; names that are not valid UTF-8 get U+FFFD, like activity records.
std::string dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string rfc3339(std::chrono::system_clock::time_point tp) {
  std::string out;
  append_utc_time(out, tp, 9);
  return out;
}

std::expected<std::string, Error> read_stdin() {
  std::string out;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n == 0) return out;
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(Error::from_errno(errno, "reading standard input"));
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
}

int fail(const Error& e) {
  print_error(e);
  return fs_exit_code(e);
}

int emit(std::string_view text) {
  if (write_stdout(text)) return kExitOk;
  detail::print_stderr("airssys-osl: io: writing standard output: {}\n", std::strerror(errno));
  return kExitFailed;
}

// Runs `body` against a System built from the common options; always flushes.
template <class Body>
int with_system(const CommonOptions& common, Body&& body) {
  auto system = make_system(common);
  if (!system) return system.error();
  return finish(*system, body(*system));
}

int fs_read(const FsOptions& o) {
  return with_system(o.common, [&](System& sys) {
    auto r = sys.run(o.common.principal, fs::Read{.path = o.path});
    if (!r) return fail(r.error());
    return emit(*r);
  });
}

int fs_write(const FsOptions& o) {
  if (o.append && o.atomic) {
    detail::print_stderr("airssys-osl: --append and --atomic cannot be combined (atomic replaces the whole file)\n");
    return kExitUsage;
  }
  std::string data;
  if (o.data) {
    data = *o.data;
  } else {
    auto in = read_stdin();
    if (!in) {
      print_error(in.error());
      return kExitFailed;
    }
    data = std::move(*in);
  }
  return with_system(o.common, [&](System& sys) {
    fs::Write w{.path = o.path, .data = std::move(data)};
    w.mode = o.append ? fs::WriteMode::append : fs::WriteMode::overwrite;
    w.atomic = o.atomic;
    auto r = sys.run(o.common.principal, w);
    if (!r) return fail(r.error());
    return kExitOk;
  });
}

int fs_list(const FsOptions& o) {
  return with_system(o.common, [&](System& sys) {
    auto r = sys.run(o.common.principal, fs::List{.path = o.path});
    if (!r) return fail(r.error());
    std::string out;
    if (o.json) {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& e : *r) arr.push_back({{"name", e.name}, {"type", to_string(e.type)}});
      out = dump(arr);
    } else {
      for (const auto& e : *r) out += fmt::format("{} {}\n", to_string(e.type), e.name);
    }
    return emit(out);
  });
}

int fs_stat(const FsOptions& o) {
  return with_system(o.common, [&](System& sys) {
    auto r = sys.run(o.common.principal, fs::Stat{.path = o.path, .follow_symlinks = !o.no_follow});
    if (!r) return fail(r.error());
    const fs::FileInfo& i = *r;
    const std::string mode = fmt::format("{:04o}", static_cast<unsigned>(i.mode));
    if (o.json) {
      return emit(dump({{"type", to_string(i.type)},
                        {"size", i.size},
                        {"mode", mode},
                        {"uid", i.uid},
                        {"gid", i.gid},
                        {"inode", i.inode},
                        {"nlink", i.nlink},
                        {"mtime", rfc3339(i.mtime)}}));
    }
    return emit(fmt::format("type: {}\nsize: {}\nmode: {}\nuid: {}\ngid: {}\ninode: {}\nnlink: {}\nmtime: {}\n",
                            to_string(i.type), i.size, mode, i.uid, i.gid, i.inode, i.nlink, rfc3339(i.mtime)));
  });
}

int fs_delete(const FsOptions& o) {
  return with_system(o.common, [&](System& sys) {
    auto r = sys.run(o.common.principal, fs::Delete{.path = o.path, .recursive = o.recursive});
    if (!r) {
      const int code = fail(r.error());
      // A recursive delete that kept entries deny rules protect (category
      // denied) has run and removed the rest: exit 1, not 126 ("nothing ran").
      return sys.stats().operations > 0 ? kExitFailed : code;
    }
    return kExitOk;
  });
}

int fs_mkdir(const FsOptions& o) {
  return with_system(o.common, [&](System& sys) {
    auto r = sys.run(o.common.principal, fs::CreateDir{.path = o.path, .recursive = o.recursive});
    if (!r) return fail(r.error());
    return kExitOk;
  });
}

// One fs subcommand: common options, PATH, and `run` as its action.
std::shared_ptr<FsOptions> add(CLI::App& fs, const char* name, const char* help, int (*run)(const FsOptions&),
                               int& exit_code, CLI::App** out) {
  auto o = std::make_shared<FsOptions>();
  CLI::App* cmd = fs.add_subcommand(name, help);
  add_common_options(*cmd, o->common);
  cmd->add_option("PATH", o->path, "file or directory")->required();
  cmd->callback([o, run, &exit_code] { exit_code = run(*o); });
  *out = cmd;
  return o;
}

}  // namespace

void add_fs_commands(CLI::App& app, int& exit_code) {
  CLI::App* fs = app.add_subcommand("fs", "filesystem operations (exit 0 ok, 1 failed, 126 denied, 2 usage)");
  fs->require_subcommand(1);
  CLI::App* cmd = nullptr;

  add(*fs, "read", "print a file's content", fs_read, exit_code, &cmd);

  auto w = add(*fs, "write", "write DATA (or standard input) to a file, creating it 0600 if needed", fs_write,
               exit_code, &cmd);
  cmd->add_option("DATA", w->data, "content to write; read from standard input when omitted");
  cmd->add_flag("--append", w->append, "append instead of replacing the content");
  cmd->add_flag("--atomic", w->atomic, "write a temporary file, fsync, rename it over the target");

  auto l = add(*fs, "list", "list a directory: one \"TYPE NAME\" line per entry, sorted by name", fs_list,
               exit_code, &cmd);
  cmd->add_flag("--json", l->json, "print a JSON array of {\"name\", \"type\"}");

  auto s = add(*fs, "stat", "show a file's metadata as \"key: value\" lines", fs_stat, exit_code, &cmd);
  cmd->add_flag("--json", s->json, "print one JSON object");
  cmd->add_flag("--no-follow", s->no_follow, "describe a symbolic link itself, not its target");

  auto d = add(*fs, "delete", "delete a file or a directory (empty, or all it holds with --recursive)", fs_delete, exit_code, &cmd);
  cmd->add_flag("--recursive", d->recursive, "delete a directory and everything in it (symlinks are not followed)");

  auto m = add(*fs, "mkdir", "create a directory (mode 0700)", fs_mkdir, exit_code, &cmd);
  cmd->add_flag("--parents", m->recursive, "create missing parents; an existing directory is not an error");
}

}  // namespace airssys::osl::cli
