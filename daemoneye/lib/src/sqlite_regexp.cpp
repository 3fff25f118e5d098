#define PCRE2_CODE_UNIT_WIDTH 8
#include "sqlite_regexp.hpp"

#include <fmt/format.h>
#include <pcre2.h>

#include <memory>

#include "sigma.hpp"

namespace airssys::daemoneye::detail {

namespace {

constexpr std::uint32_t kCompileOptions = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_NEVER_BACKSLASH_C;

struct CodeFree {
  void operator()(pcre2_code* c) const noexcept { pcre2_code_free(c); }
};
struct MatchDataFree {
  void operator()(pcre2_match_data* m) const noexcept { pcre2_match_data_free(m); }
};
struct MatchContextFree {
  void operator()(pcre2_match_context* m) const noexcept { pcre2_match_context_free(m); }
};

// The compiled patterns a connection holds right now. One per call site
// that has run with a constant pattern (SQLite keeps it until the statement
// is reset or finalized), plus the one a call with a column as its pattern
// holds until it returns. Counting here rather than in the authorizer sees
// the call sites SQLite makes itself: an alias used in WHERE is a copy of
// its expression (`SELECT regexp(..) AS r ... WHERE r AND r`), its own
// call site with its own match heap, and is never shown to the authorizer.
// Counting the live ones, not the compilations, leaves a per-row pattern
// (freed after each call) runnable over any number of rows.
struct Budget {
  int live = 0;
};

// What a statement keeps for one pattern: the compiled code, its match
// data and the limits. Counted in `budget` while it lives.
struct Compiled {
  explicit Compiled(Budget& b) : budget(b) { ++budget.live; }
  ~Compiled() { --budget.live; }
  Compiled(const Compiled&) = delete;
  Compiled& operator=(const Compiled&) = delete;
  Budget& budget;
  std::unique_ptr<pcre2_code, CodeFree> code;
  std::unique_ptr<pcre2_match_data, MatchDataFree> data;
  std::unique_ptr<pcre2_match_context, MatchContextFree> context;
};

std::unique_ptr<pcre2_code, CodeFree> compile(std::string_view pattern, std::string& error) {
  int code = 0;
  PCRE2_SIZE offset = 0;
  std::unique_ptr<pcre2_code, CodeFree> re(pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                                         kCompileOptions, &code, &offset, nullptr));
  if (!re) {
    PCRE2_UCHAR buf[256];
    pcre2_get_error_message(code, buf, sizeof buf);
    error = fmt::format("{} at offset {}", reinterpret_cast<const char*>(buf), offset);
  }
  return re;
}

void destroy(void* p) { delete static_cast<Compiled*>(p); }
void delete_budget(void* p) { delete static_cast<std::shared_ptr<Budget>*>(p); }

// nullptr with `error` set when the pattern does not compile; nullptr with
// `error` empty when memory ran out.
std::unique_ptr<Compiled> make_compiled(Budget& budget, std::string_view pattern, std::string& error) {
  auto c = std::make_unique<Compiled>(budget);
  c->code = compile(pattern, error);
  if (!c->code) return nullptr;
  c->data.reset(pcre2_match_data_create_from_pattern(c->code.get(), nullptr));
  c->context.reset(pcre2_match_context_create(nullptr));
  if (!c->data || !c->context) return nullptr;
  pcre2_set_match_limit(c->context.get(), kMatchLimit);
  pcre2_set_depth_limit(c->context.get(), kDepthLimit);
  pcre2_set_heap_limit(c->context.get(), kHeapLimitKib);
  return c;
}

int matches(const Compiled& c, sqlite3_value* value, int at_limit) {
  const auto* v = ::sqlite3_value_text(value);
  const auto n = static_cast<std::size_t>(::sqlite3_value_bytes(value));
  const int rc = pcre2_match(c.code.get(), v != nullptr ? v : reinterpret_cast<PCRE2_SPTR>(""), n, 0, 0, c.data.get(),
                             c.context.get());
  // A limit reached (or any other failure) is `at_limit`: see the header.
  if (rc == PCRE2_ERROR_NOMATCH) return 0;
  return rc >= 0 ? 1 : at_limit;
}

void regexp_fn(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
  if (::sqlite3_value_type(argv[0]) == SQLITE_NULL || ::sqlite3_value_type(argv[1]) == SQLITE_NULL) {
    ::sqlite3_result_null(ctx);
    return;
  }
  const int at_limit = argc == 3 && ::sqlite3_value_int(argv[2]) == 0 ? 0 : 1;
  if (auto* kept = static_cast<Compiled*>(::sqlite3_get_auxdata(ctx, 0)); kept != nullptr) {
    ::sqlite3_result_int(ctx, matches(*kept, argv[1], at_limit));
    return;
  }
  auto& budget = **static_cast<std::shared_ptr<Budget>*>(::sqlite3_user_data(ctx));
  if (budget.live >= kMaxCallSites) {
    const std::string msg = fmt::format(
        "not allowed: more than {} regexp()/REGEXP calls in one query (each may hold {} KiB of matching memory; an "
        "alias used in WHERE or HAVING is a call of its own)",
        kMaxCallSites, kHeapLimitKib);
    ::sqlite3_result_error(ctx, msg.c_str(), static_cast<int>(msg.size()));
    // After the message (a code alone would replace it with SQLite's own):
    // the same category as the authorizer's refusal of the 33rd written call.
    ::sqlite3_result_error_code(ctx, SQLITE_AUTH);
    return;
  }
  const auto* p = reinterpret_cast<const char*>(::sqlite3_value_text(argv[0]));
  const auto n = static_cast<std::size_t>(::sqlite3_value_bytes(argv[0]));
  std::string error;
  auto fresh = make_compiled(budget, std::string_view(p != nullptr ? p : "", n), error);
  if (!fresh) {
    if (error.empty()) {
      ::sqlite3_result_error_nomem(ctx);
      return;
    }
    const std::string msg = "regexp: " + error;
    ::sqlite3_result_error(ctx, msg.c_str(), static_cast<int>(msg.size()));
    return;
  }
  ::sqlite3_result_int(ctx, matches(*fresh, argv[1], at_limit));
  // Kept for the next rows when the pattern is a constant; SQLite frees it
  // (at once, if it is not) with `destroy`.
  ::sqlite3_set_auxdata(ctx, 0, fresh.release(), &destroy);
}

}  // namespace

int register_regexp(sqlite3* db) {
  constexpr int kFlags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY;
  // Both arities share the connection's budget; each registration owns a
  // reference, which SQLite drops (delete_budget) when the connection
  // closes, after its last statement has freed its patterns, or at once
  // when the registration fails.
  const auto budget = std::make_shared<Budget>();
  for (const int args : {2, 3}) {
    auto ref = std::make_unique<std::shared_ptr<Budget>>(budget);
    const int rc =
        ::sqlite3_create_function_v2(db, "regexp", args, kFlags, ref.release(), &regexp_fn, nullptr, nullptr, &delete_budget);
    if (rc != SQLITE_OK) return rc;
  }
  return SQLITE_OK;
}

std::string regex_compile_error(std::string_view pattern) {
  std::string error;
  auto re = compile(pattern, error);
  return re ? std::string() : error;
}

}  // namespace airssys::daemoneye::detail

namespace airssys::daemoneye::sigma {

std::string regex_error(std::string_view pattern) { return detail::regex_compile_error(pattern); }

}  // namespace airssys::daemoneye::sigma
