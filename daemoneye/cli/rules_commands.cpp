// daemoneye-cli rules check / rules list: rules loaded exactly as the agent
// loads them (load_rules / load_rule_file), their SQL compiled by the
// guarded QueryEngine against the real schema of a scratch store.

#include "commands.hpp"
#include "output.hpp"

#include <airssys/daemoneye/query_engine.hpp>
#include <airssys/daemoneye/rule.hpp>
#include <airssys/daemoneye/store.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>

#include <stdlib.h>
#include <sys/stat.h>

namespace airssys::daemoneye::cli {

namespace {

// An empty store in a private temp dir (0700), removed with it: the schema
// rules are compiled against, without touching the agent's database.
class ScratchStore {
 public:
  static Result<ScratchStore> create() {
    std::string templ = (std::filesystem::temp_directory_path() / "daemoneye-cli-XXXXXX").string();
    if (::mkdtemp(templ.data()) == nullptr) return fail_errno(errno, "mkdtemp " + templ);
    ScratchStore s(templ);
    auto store = Store::open({.path = s.dir_ / "scratch.db"});
    if (!store) return std::unexpected(store.error().prefixed("scratch store"));
    s.store_ = std::move(*store);
    auto engine = QueryEngine::open(s.dir_ / "scratch.db");
    if (!engine) return std::unexpected(engine.error().prefixed("scratch store"));
    s.engine_ = std::move(*engine);
    return s;
  }
  ScratchStore(ScratchStore&& o) noexcept
      : dir_(std::exchange(o.dir_, {})), store_(std::move(o.store_)), engine_(std::move(o.engine_)) {}
  ScratchStore& operator=(ScratchStore&&) = delete;
  ~ScratchStore() {
    engine_.reset();
    store_.reset();
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }
  [[nodiscard]] const QueryEngine* engine() const { return engine_.get(); }

 private:
  explicit ScratchStore(std::filesystem::path dir) : dir_(std::move(dir)) {}
  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<QueryEngine> engine_;
};

// The exit code when rules were rejected: a path the user named (or
// rules.dir) that could not be opened at all exits by that error's category
// (3 missing, 4 denied: a symlink or unsafe mode); otherwise rejected rules
// are the command's "no", 1.
int rejected_exit(const std::vector<RuleError>& errors, const std::vector<std::filesystem::path>& named) {
  for (const auto& e : errors)
    if (e.category != ErrorCategory::invalid_input && std::find(named.begin(), named.end(), e.file) != named.end())
      return exit_code(e.category);
  return kExitFailed;
}

}  // namespace

int run_rules_check(const std::vector<std::string>& paths) {
  auto scratch = ScratchStore::create();
  if (!scratch) {
    return fail_with(scratch.error());
  }
  std::size_t ok = 0, bad = 0;
  std::string out;
  std::vector<RuleError> errors;
  for (const auto& p : paths) {
    // A symbolic link is handed on as such: the loaders refuse it (never followed), with their
    // message — a link to a directory as a rules directory, so the message says so.
    struct stat st {}, target {};
    if (::lstat(p.c_str(), &st) != 0) {
      const Error e = Error::from_errno(errno, p);  // "PATH: No such file or directory": exits 3
      say(printable(e.message));
      errors.push_back({.file = p, .message = e.message, .category = e.category});
      ++bad;
      continue;
    }
    const bool dir = S_ISDIR(st.st_mode) ||
                     (S_ISLNK(st.st_mode) && ::stat(p.c_str(), &target) == 0 && S_ISDIR(target.st_mode));
    if (dir) {
      RuleSet set = load_rules(p, scratch->engine());
      for (const auto& r : set.rules) {
        out += fmt::format("ok  {}: {} ({}{})\n", printable(r.file.string()), printable(r.id), to_string(r.severity),
                           r.enabled ? "" : ", disabled");
        for (const auto& w : r.warnings) say(printable(w));
      }
      for (const auto& e : set.errors) say(printable(e.message));
      for (const auto& note : set.ignored) say(printable(note));
      errors.insert(errors.end(), set.errors.begin(), set.errors.end());
      ok += set.rules.size();
      bad += set.errors.size();
    } else {
      auto r = load_rule_file(p, scratch->engine());
      if (r) {
        out += fmt::format("ok  {}: {} ({}{})\n", printable(p), printable(r->id), to_string(r->severity),
                           r->enabled ? "" : ", disabled");
        for (const auto& w : r->warnings) say(printable(w));
        ++ok;
      } else {
        say(printable(r.error().message));
        errors.push_back(r.error());
        ++bad;
      }
    }
  }
  write_stdout(out);
  say(fmt::format("{} rule{} valid, {} rejected", ok, ok == 1 ? "" : "s", bad));
  if (bad == 0) return kExitOk;
  return rejected_exit(errors, std::vector<std::filesystem::path>(paths.begin(), paths.end()));
}

int run_rules_list(const Context& ctx, bool json) {
  auto scratch = ScratchStore::create();
  if (!scratch) {
    return fail_with(scratch.error());
  }
  RuleSet set = load_rules(ctx.config.rules.dir, scratch->engine());
  if (json) {
    nlohmann::ordered_json all = nlohmann::ordered_json::array();
    for (const auto& r : set.rules) {
      all.push_back(nlohmann::ordered_json{{"id", r.id},
                                           {"name", r.name},
                                           {"severity", to_string(r.severity)},
                                           {"enabled", r.enabled},
                                           {"tags", r.tags},
                                           {"file", r.file.string()}});
    }
    nlohmann::ordered_json rejected = nlohmann::ordered_json::array();
    for (const auto& e : set.errors) rejected.push_back({{"file", e.file.string()}, {"message", e.message}});
    nlohmann::ordered_json j{{"dir", ctx.config.rules.dir.string()},
                             {"rules", std::move(all)},
                             {"rejected", std::move(rejected)},
                             {"ignored", set.ignored}};
    write_stdout(json_text(j, 2) + "\n");
  } else if (const int unreadable = rejected_exit(set.errors, {ctx.config.rules.dir}); unreadable != kExitFailed) {
    // The directory itself could not be read (missing, a symbolic link,
    // unsafe): its error is the answer, not an empty table and a count of
    // "rejected" rules (the agent refuses to start on such a rules.dir).
    for (const auto& e : set.errors) say(printable(e.message));
    return unreadable;
  } else {
    std::vector<std::vector<std::string>> rows;
    for (const auto& r : set.rules)
      rows.push_back({r.id, std::string(to_string(r.severity)), r.enabled ? "yes" : "no", r.name, r.file.filename().string()});
    write_stdout(format_table({"ID", "SEVERITY", "ENABLED", "NAME", "FILE"}, rows, terminal_width()));
    for (const auto& e : set.errors) say(printable(e.message));
    for (const auto& note : set.ignored) say(printable(note));
    say(fmt::format("{}: {} rules, {} rejected", ctx.config.rules.dir.string(), set.rules.size(), set.errors.size()));
  }
  return set.errors.empty() ? kExitOk : rejected_exit(set.errors, {ctx.config.rules.dir});
}

}  // namespace airssys::daemoneye::cli
