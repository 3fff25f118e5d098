#include <airssys/daemoneye/redact.hpp>
#include <airssys/daemoneye/snapshot_chunks.hpp>
#include <airssys/osl/proc.hpp>

#include <algorithm>
#include <array>
#include <optional>
#include <vector>

namespace airssys::daemoneye {

namespace {

char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Lower case, '_' → '-': "--API_Key" and "--api-key" are one option.
std::string normalize(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = (c == '_') ? '-' : lower(c);
  return out;
}

bool contains(std::string_view hay, std::string_view needle) noexcept { return hay.find(needle) != std::string_view::npos; }

// Options whose value is a secret: exactly these, or "<anything>-<one of kSecretSuffixes>".
constexpr std::array<std::string_view, 13> kSecretOptions = {
    "password", "passwd",  "pass",    "passin",        "passout",   "passphrase", "token",
    "secret",   "apikey",  "api-key", "client-secret", "storepass", "keypass"};
constexpr std::array<std::string_view, 11> kSecretSuffixes = {
    "-password", "-passwd", "-pass",      "-passphrase", "-token",     "-secret",
    "-api-key",  "-apikey", "-access-key", "-private-key", "-secret-key"};

bool secret_option(std::string_view norm) noexcept {
  if (norm.starts_with("no-")) return false;
  if (norm == "access-key" || norm == "private-key" || norm == "secret-key") return true;
  if (std::find(kSecretOptions.begin(), kSecretOptions.end(), norm) != kSecretOptions.end()) return true;
  return std::any_of(kSecretSuffixes.begin(), kSecretSuffixes.end(),
                     [&](std::string_view s) { return norm.size() > s.size() && norm.ends_with(s); });
}

// NAME of a NAME=VALUE argument that names a secret (PASSWORD, DB_PASSWORD,
// GITHUB_TOKEN, spark.authenticate.secret, …).
bool secret_env_name(std::string_view name) {
  if (name.empty()) return false;
  const char c0 = name[0];
  if (!((c0 >= 'A' && c0 <= 'Z') || (c0 >= 'a' && c0 <= 'z') || c0 == '_')) return false;
  for (char c : name) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
                    c == '-';
    if (!ok) return false;
  }
  std::string n = normalize(name);
  std::replace(n.begin(), n.end(), '.', '-');
  for (std::string_view k : {"password", "passwd", "passphrase", "token", "secret", "api-key", "apikey", "access-key",
                             "private-key"}) {
    if (contains(n, k)) return true;
  }
  return false;
}

// "NAME=VALUE" with a secret NAME → "NAME=***"; else nullopt.
std::optional<std::string> redact_env(std::string_view word) {
  const auto eq = word.find('=');
  if (eq == std::string_view::npos || eq + 1 == word.size()) return std::nullopt;
  if (!secret_env_name(word.substr(0, eq))) return std::nullopt;
  return std::string(word.substr(0, eq + 1)).append(kRedacted);
}

// scheme://user:pass@host → scheme://user:***@host, for every URL in `s`.
void mask_url_passwords(std::string& s) {
  std::size_t from = 0;
  for (;;) {
    const auto sep = s.find("://", from);
    if (sep == std::string::npos) return;
    const std::size_t start = sep + 3;
    std::size_t end = start;
    while (end < s.size() && std::string_view("/?# \t\n'\"").find(s[end]) == std::string_view::npos) ++end;
    // Both searches stay inside this URL's authority: searching the whole
    // string made one argument of "://" repeated cost O(n^2) (seconds for a
    // 128 KiB cmdline any user can give a process).
    const std::string_view authority = std::string_view(s).substr(start, end - start);
    const auto at = authority.rfind('@');
    if (at != std::string_view::npos) {
      const auto colon = authority.find(':');
      if (colon < at && colon + 1 < at) {
        s.replace(start + colon + 1, at - colon - 1, kRedacted);
        end = start + colon + 1 + kRedacted.size() + 1;
      }
    }
    from = end;
  }
}

enum class Mask : std::uint8_t { none, whole, after_colon, after_scheme };

std::string masked(std::string_view word, Mask how) {
  if (how == Mask::after_colon) {
    const auto colon = word.find(':');
    if (colon == std::string_view::npos) return std::string(word);  // "curl -u alice" prompts for the password
    return std::string(word.substr(0, colon + 1)).append(kRedacted);
  }
  return std::string(kRedacted);
}

struct ShortRule {
  std::string_view program;
  char letter;
  bool separate;  // "-p VALUE" as well as "-pVALUE"
  Mask how;
};

// Short options that hold a password only in these programs.
constexpr ShortRule kShortRules[] = {
    {"mysql", 'p', false, Mask::whole},       {"mysqldump", 'p', false, Mask::whole},
    {"mysqladmin", 'p', false, Mask::whole},  {"mysqlimport", 'p', false, Mask::whole},
    {"mysqlshow", 'p', false, Mask::whole},   {"mysqlcheck", 'p', false, Mask::whole},
    {"mysqlslap", 'p', false, Mask::whole},   {"mysqlpump", 'p', false, Mask::whole},
    {"mariadb", 'p', false, Mask::whole},     {"mariadb-dump", 'p', false, Mask::whole},
    {"mariadb-admin", 'p', false, Mask::whole}, {"sshpass", 'p', true, Mask::whole},
    {"redis-cli", 'a', true, Mask::whole},    {"curl", 'u', true, Mask::after_colon},
    {"curl", 'U', true, Mask::after_colon},
};

std::string_view basename(std::string_view path) noexcept {
  const auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

bool is_scheme(std::string_view w) {
  const std::string n = normalize(w);
  return n == "bearer" || n == "basic" || n == "token" || n == "digest" || n == "negotiate";
}

// A word that introduces an HTTP header whose value is a credential:
// "Authorization:", "-HAuthorization:", "--header=X-Api-Key:".
Mask header_mask(std::string_view word) {
  if (!word.ends_with(':')) return Mask::none;
  std::string_view name = word.substr(0, word.size() - 1);
  if (const auto eq = name.rfind('='); eq != std::string_view::npos) name = name.substr(eq + 1);
  const std::string n = normalize(name);
  if (n.ends_with("authorization")) return Mask::after_scheme;
  for (std::string_view k : {"api-key", "apikey", "token", "secret", "password"}) {
    if (n.ends_with(k)) return Mask::whole;
  }
  return Mask::none;
}

// A program name matching every short-option rule: for words whose program
// is not known (the start of a tail argument whose beginning was not read).
constexpr std::string_view kAnyProgram = "\0any";

// The replacement of each word (nullopt: unchanged), applying every rule
// above to one argv (or to the words of one argument) whose program is
// `program` (kAnyProgram: every program's rules).
std::vector<std::optional<std::string>> redact_words(std::span<const std::string_view> words,
                                                     std::string_view program) {
  std::vector<std::optional<std::string>> out(words.size());
  const bool any = program == kAnyProgram;
  Mask next = Mask::none;
  for (std::size_t i = 0; i < words.size(); ++i) {
    const std::string_view w = words[i];
    if (next != Mask::none) {
      if (next == Mask::after_scheme && is_scheme(w)) continue;  // keep "Bearer", mask the word after it
      out[i] = masked(w, next);
      next = Mask::none;
      continue;
    }
    if (const Mask h = header_mask(w); h != Mask::none) {
      next = h;
    } else if (w.size() >= 2 && w[0] == '-') {
      const std::size_t dashes = w[1] == '-' ? 2 : 1;
      const std::string_view body = w.substr(dashes);
      const auto eq = body.find('=');
      const std::string_view key = body.substr(0, eq);
      const bool has_next = i + 1 < words.size() && !words[i + 1].starts_with("--");
      bool done = false;
      // A short option of a program where it is a password ("-pX" for mysql
      // means -p X, never a long option "pX").
      if (dashes == 1) {
        for (const auto& r : kShortRules) {
          if ((r.program != program && !any) || body.empty() || body[0] != r.letter) continue;
          if (body.size() > 1) out[i] = std::string(w.substr(0, 2)).append(masked(body.substr(1), r.how));
          else if (r.separate && has_next) next = r.how;
          done = true;
          break;
        }
      }
      if (!done && (dashes == 2 || key.size() > 1)) {
        const std::string norm = normalize(key);
        Mask how = Mask::none;
        if (secret_option(norm)) how = Mask::whole;
        else if ((program == "curl" || any) && (norm == "user" || norm == "proxy-user")) how = Mask::after_colon;
        if (how != Mask::none) {
          if (eq != std::string_view::npos) {
            if (eq + 1 < body.size()) {
              out[i] = std::string(w.substr(0, dashes + eq + 1)).append(masked(body.substr(eq + 1), how));
            }
          } else if (has_next) {
            next = how;
          }
        } else if (eq != std::string_view::npos) {
          if (auto env = redact_env(body.substr(eq + 1))) out[i] = std::string(w.substr(0, dashes + eq + 1)).append(*env);
        }
      }
    } else if (auto env = redact_env(w)) {
      out[i] = std::move(*env);
    } else if (w.size() > 5 && normalize(w.substr(0, 5)) == "pass:") {
      out[i] = std::string(w.substr(0, 5)).append(kRedacted);
    }
    if (!out[i] && contains(w, "://") && contains(w, "@")) {
      std::string s(w);
      mask_url_passwords(s);
      if (s != w) out[i] = std::move(s);
    }
  }
  return out;
}

// Words of one argument: split at blanks outside '…' and "…" quotes.
struct Word {
  std::size_t begin, end;
};

std::vector<Word> split_words(std::string_view s) {
  std::vector<Word> words;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n')) ++i;
    if (i >= s.size()) break;
    const std::size_t b = i;
    char quote = 0;
    while (i < s.size()) {
      const char c = s[i];
      if (quote) {
        if (c == quote) quote = 0;
      } else if (c == '\'' || c == '"') {
        quote = c;
      } else if (c == ' ' || c == '\t' || c == '\n') {
        break;
      }
      ++i;
    }
    words.push_back({b, i});
  }
  return words;
}

std::string_view program_of(std::span<const std::string_view> argv) {
  return argv.empty() ? std::string_view() : basename(argv[0]);
}

// The argument with the rules applied to its words; nullopt when unchanged.
// `partial`: the argument's start was not read (a tail's first argument), so
// its word 0 is no program: every program's rules apply, and with
// `mask_first` its word 0 is masked.
std::optional<std::string> redact_inside(std::string_view arg, bool partial = false, bool mask_first = false) {
  const auto words = split_words(arg);
  if (words.size() < (partial ? 1u : 2u)) return std::nullopt;
  std::vector<std::string_view> views;
  views.reserve(words.size());
  for (const auto& w : words) views.push_back(arg.substr(w.begin, w.end - w.begin));
  // Word 0 plays argv[0]: for `sh -c "mysql -pX db"` that is the program
  // the short-option table needs.
  auto repl = redact_words(views, partial ? kAnyProgram : program_of(views));
  if (partial && mask_first) repl[0] = std::string(kRedacted);
  if (std::none_of(repl.begin(), repl.end(), [](const auto& r) { return r.has_value(); })) return std::nullopt;
  std::string out;
  out.reserve(arg.size());
  std::size_t pos = 0;
  for (std::size_t k = 0; k < words.size(); ++k) {
    out.append(arg.substr(pos, words[k].begin - pos));
    out.append(repl[k] ? std::string_view(*repl[k]) : views[k]);
    pos = words[k].end;
  }
  out.append(arg.substr(pos));
  return out;
}

}  // namespace

namespace {

// Whether `fragment`, the end of a word whose start was not read, may be the
// end of a word after which the next one is a secret: an option such as
// "--password" / "-p" (for `program`), "--db-password", or a credential
// header name ("Authorization:"). Errs on masking: "d" may end "--password".
bool may_end_secret_name(std::string_view fragment, std::string_view program) {
  if (fragment.find('=') != std::string_view::npos) return false;  // its value was in the fragment
  if (fragment.empty()) return true;
  const std::string n = normalize(fragment);
  auto ends = [&](std::string_view whole) { return whole.ends_with(n); };
  for (std::string_view o : kSecretOptions) {
    if (ends(std::string("--").append(o))) return true;
  }
  for (std::string_view sfx : kSecretSuffixes) {
    if (ends(sfx)) return true;
  }
  for (const auto& r : kShortRules) {
    if (r.separate && r.program == program && ends(std::string("-").append(1, r.letter))) return true;
  }
  if (program == "curl" && (ends("--user") || ends("--proxy-user"))) return true;
  for (std::string_view h : {"authorization:", "api-key:", "apikey:", "token:", "secret:", "password:"}) {
    if (ends(h)) return true;
  }
  const std::string_view body = std::string_view(n).substr(std::min(n.find_first_not_of('-'), n.size()));
  return secret_option(body) || header_mask(n) != Mask::none;
}

}  // namespace

namespace {

// argv[from..] redacted and joined, with argv's program for the rules.
// TailCut: argv[from] begins where a read began (a tail), `partial` when it
// is the rest of an argument whose start was not read, `mask_first` when
// the word before it may have been a secret option's name.
struct TailCut {
  bool partial = false;
  bool mask_first = false;
};

std::string redact_joined(std::span<const std::string_view> argv, std::string_view program, std::size_t from,
                          TailCut cut) {
  auto repl = redact_words(argv, program);
  if (cut.mask_first && !cut.partial && from < argv.size()) repl[from] = std::string(kRedacted);
  std::string out;
  std::size_t size = 0;
  for (auto a : argv) size += a.size() + 1;
  out.reserve(size);
  for (std::size_t i = from; i < argv.size(); ++i) {
    if (i > from) out.push_back(' ');
    const std::string_view arg = repl[i] ? std::string_view(*repl[i]) : argv[i];
    const bool partial = cut.partial && i == from && !repl[i];
    std::optional<std::string> inner;
    if (partial) inner = redact_inside(arg, true, cut.mask_first);
    else if (arg.find_first_of(" \t\n") != std::string_view::npos) inner = redact_inside(arg);
    out.append(inner ? std::string_view(*inner) : arg);
  }
  return out;
}

}  // namespace

std::string redact_cmdline(std::span<const std::string_view> argv) {
  return redact_joined(argv, program_of(argv), 0, {});
}

}  // namespace airssys::daemoneye

namespace airssys::daemoneye {

namespace {

bool continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

std::vector<std::string_view> head_args(std::string_view raw_args, bool truncated) {
  auto args = osl::proc::split_args(raw_args);
  while (!args.empty() && args.back().empty()) args.pop_back();
  if (truncated && !args.empty() && args.back().find("://") != std::string_view::npos) args.pop_back();
  return args;
}

}  // namespace

void keep_head_and_tail(std::string& s, std::size_t max) {
  if (s.size() <= max) return;
  if (max < kCmdlineCut.size() + 2) {
    truncate_utf8(s, max);
    return;
  }
  const std::size_t room = max - kCmdlineCut.size();
  std::size_t head = room / 2;
  // Back off over continuation bytes (10xxxxxx) to a sequence's lead byte.
  while (head > 0 && continuation(s[head])) --head;
  std::size_t from = s.size() - (room - head);
  while (from < s.size() && continuation(s[from])) ++from;
  std::string out;
  out.reserve(head + kCmdlineCut.size() + (s.size() - from));
  out.append(s, 0, head);
  out.append(kCmdlineCut);
  out.append(s, from, std::string::npos);
  s = std::move(out);
}

std::string cmdline_column(std::string_view raw_args, bool truncated, std::size_t max) {
  const auto args = head_args(raw_args, truncated);
  std::string out = redact_cmdline(args);
  keep_head_and_tail(out, max);
  return out;
}

std::string cmdline_column_cut(std::string_view head, std::string_view tail, std::size_t max) {
  const auto first = head_args(head, true);
  // The tail's first word is the end of something whose start was not read.
  const std::size_t word_end = tail.find_first_of(std::string_view(" \t\n\0", 4));
  const std::string_view fragment = tail.substr(0, word_end);
  tail = word_end == std::string_view::npos ? std::string_view() : tail.substr(word_end);
  auto last = osl::proc::split_args(tail);
  while (!last.empty() && last.back().empty()) last.pop_back();
  while (!last.empty() && last.front().find_first_not_of(" \t\n") == std::string_view::npos) last.erase(last.begin());
  std::string out = redact_cmdline(first);
  out.append(kCmdlineCut);
  // The tail is redacted as the rest of the head's argv: its program is the
  // head's argv[0] (the tail's own first word is just whatever followed the
  // cut), and the word after the fragment is masked when the fragment may
  // end a secret option's name ("ssword" of --password).
  std::vector<std::string_view> argv;
  argv.reserve(last.size() + 1);
  argv.push_back(first.empty() ? std::string_view() : first.front());
  argv.insert(argv.end(), last.begin(), last.end());
  // A read that began on one separator: the word before it is unknown, so
  // it may be a secret option's name. On a run of them (padding) it is not
  // masked: a secret option's value follows one separator, and masking there
  // would hide what padding is put before.
  constexpr std::string_view kSeparators(" \t\n\0", 4);
  const bool one_separator = tail.size() >= 2 && kSeparators.find(tail[1]) == std::string_view::npos;
  const TailCut cut{.partial = !last.empty() && kSeparators.find(last.front().front()) != std::string_view::npos,
                    .mask_first = (!fragment.empty() || one_separator) && may_end_secret_name(fragment, program_of(argv))};
  out.append(redact_joined(argv, program_of(argv), 1, cut));
  keep_head_and_tail(out, max);
  return out;
}

}  // namespace airssys::daemoneye
