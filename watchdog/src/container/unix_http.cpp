#include "container/unix_http.hpp"

#include <airssys/osl/unique_fd.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>
#include <thread>
#include <variant>

namespace airssys::watchdog::container {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::size_t kMaxHead = 64 * 1024;
constexpr std::size_t kMaxChunkLine = 1024;
constexpr std::size_t kReadSize = 16 * 1024;
constexpr milliseconds kCancelSlice{200};  // a wait looks at `cancel` this often

// The exchange ended early on purpose (sink refused, cancel): not an error.
struct Stopped {
  bool cancelled = false;  // by `cancel`, not by the sink
};
using Fail = std::variant<HttpError, Stopped>;

std::unexpected<Fail> fail(HttpFailure kind, std::string reason, int err = 0) {
  return std::unexpected<Fail>(HttpError{kind, std::move(reason), err});
}

char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return ascii_lower(x) == ascii_lower(y); });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Stopped by `cancel`, or a timeout once `deadline` has passed.
std::expected<void, Fail> check_stop(const std::atomic<bool>* cancel, std::optional<Clock::time_point> deadline) {
  if (cancel != nullptr && cancel->load(std::memory_order_relaxed)) return std::unexpected<Fail>(Stopped{.cancelled = true});
  if (deadline && Clock::now() >= *deadline) return fail(HttpFailure::timeout, "no complete reply in time");
  return {};
}

// A connected socket with one deadline for everything read and written.
class Conn {
 public:
  Conn(osl::UniqueFd fd, std::optional<Clock::time_point> deadline, const std::atomic<bool>* cancel)
      : fd_(std::move(fd)), deadline_(deadline), cancel_(cancel) {}

  std::expected<void, Fail> send_all(std::string_view data) {
    while (!data.empty()) {
      if (auto c = check(); !c) return c;
      const ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
      if (n > 0) {
        data.remove_prefix(static_cast<std::size_t>(n));
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (auto w = wait(POLLOUT); !w) return w;
      } else {
        const int err = errno;
        return fail(err == EPIPE || err == ECONNRESET ? HttpFailure::closed_early : HttpFailure::io,
                    fmt::format("sending the request: {}", std::strerror(err)), err);
      }
    }
    return {};
  }

  // Appends what the peer sends next to `buf_`; false at the end of the stream.
  std::expected<bool, Fail> read_more() {
    char tmp[kReadSize];
    for (;;) {
      // Before every recv, not only when it would block: a peer faster than
      // this reader never makes recv return EAGAIN.
      if (auto c = check(); !c) return std::unexpected(c.error());
      const ssize_t n = ::recv(fd_.get(), tmp, sizeof tmp, 0);
      if (n > 0) {
        buf_.append(tmp, static_cast<std::size_t>(n));
        return true;
      }
      if (n == 0) return false;
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (auto w = wait(POLLIN); !w) return std::unexpected(w.error());
        continue;
      }
      const int err = errno;
      if (err == ECONNRESET) return false;  // read as an early close by the caller
      return fail(HttpFailure::io, fmt::format("reading the reply: {}", std::strerror(err)), err);
    }
  }

  // A line ending in CRLF (or LF), without it; at most `max` bytes.
  std::expected<std::string, Fail> read_line(std::size_t max, std::string_view what) {
    for (;;) {
      const auto nl = buf_.find('\n');
      if (nl != std::string::npos) {
        if (nl > max) break;
        std::string line = buf_.substr(0, nl > 0 && buf_[nl - 1] == '\r' ? nl - 1 : nl);
        buf_.erase(0, nl + 1);
        return line;
      }
      if (buf_.size() > max) break;
      auto more = read_more();
      if (!more) return std::unexpected(more.error());
      if (!*more) return fail(HttpFailure::closed_early, fmt::format("the engine closed the connection in a {}", what));
    }
    return fail(HttpFailure::malformed, fmt::format("a {} longer than {} bytes", what, max));
  }

  std::string& buf() noexcept { return buf_; }

 private:
  // One atomic load and one (vDSO) clock read per recv or send.
  std::expected<void, Fail> check() const { return check_stop(cancel_, deadline_); }

  std::expected<void, Fail> wait(short events) {
    for (;;) {
      if (auto c = check(); !c) return c;
      milliseconds slice = cancel_ != nullptr ? kCancelSlice : milliseconds(1000);
      if (deadline_) slice = std::min(slice, std::chrono::ceil<milliseconds>(*deadline_ - Clock::now()));
      slice = std::max(slice, milliseconds(1));
      pollfd p{fd_.get(), events, 0};
      const int r = ::poll(&p, 1, static_cast<int>(slice.count()));
      if (r > 0) return {};
      if (r < 0 && errno != EINTR) {
        const int err = errno;
        return fail(HttpFailure::io, fmt::format("poll: {}", std::strerror(err)), err);
      }
    }
  }

  osl::UniqueFd fd_;
  std::optional<Clock::time_point> deadline_;
  const std::atomic<bool>* cancel_;
  std::string buf_;
};

// `give_up`: connect_timeout or the exchange's deadline, whichever is first.
std::expected<osl::UniqueFd, Fail> connect_unix(const std::string& path, Clock::time_point give_up, const std::atomic<bool>* cancel) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty()) return fail(HttpFailure::connect, "empty socket path", EINVAL);
  if (path.size() >= sizeof addr.sun_path) return fail(HttpFailure::connect, "socket path too long", ENAMETOOLONG);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  osl::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return fail(HttpFailure::connect, std::strerror(errno), errno);
  for (;;) {
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) return fd;
    const int err = errno;
    if (err == EINTR) continue;
    // A Unix socket's connect does not go on in the background: EAGAIN
    // means the listener's backlog is full, and it is tried again.
    if (err == EAGAIN) {
      if (auto c = check_stop(cancel, std::nullopt); !c) return std::unexpected(c.error());
      if (Clock::now() >= give_up) return fail(HttpFailure::timeout, "the engine accepts no connection (backlog full)", err);
      std::this_thread::sleep_for(milliseconds(10));
      continue;
    }
    return fail(HttpFailure::connect, std::strerror(err), err);
  }
}

struct Head {
  long status = 0;
  bool chunked = false;
  std::optional<std::size_t> length;
};

std::expected<Head, Fail> parse_head(std::string_view head) {
  Head h;
  auto eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  // "HTTP/1.1 200 OK" (the reason may be empty, and so may its space)
  if (!line.starts_with("HTTP/1.") || line.size() < 12 || line[8] != ' ' ||
      std::from_chars(line.data() + 9, line.data() + 12, h.status).ptr != line.data() + 12 || h.status < 100 ||
      h.status > 999 || (line.size() > 12 && line[12] != ' ')) {
    return fail(HttpFailure::malformed, fmt::format("not an HTTP/1.x status line: '{}'", line.substr(0, 80)));
  }
  while (eol != std::string_view::npos) {
    head.remove_prefix(eol + 2);
    eol = head.find("\r\n");
    line = head.substr(0, eol);
    if (line.empty()) break;
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return fail(HttpFailure::malformed, fmt::format("a header line without a name: '{}'", line.substr(0, 80)));
    }
    const auto name = line.substr(0, colon);
    const auto value = trim(line.substr(colon + 1));
    if (iequals(name, "Transfer-Encoding")) {
      // The last coding decides; a chunked body is what Go's net/http sends.
      const auto last = trim(value.substr(value.rfind(',') == std::string_view::npos ? 0 : value.rfind(',') + 1));
      if (iequals(last, "chunked")) {
        h.chunked = true;
      } else if (!iequals(last, "identity")) {
        return fail(HttpFailure::malformed, fmt::format("unsupported Transfer-Encoding '{}'", value));
      }
    } else if (iequals(name, "Content-Length")) {
      std::size_t n = 0;
      const auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (value.empty() || ec != std::errc{} || p != value.data() + value.size() || (h.length && *h.length != n)) {
        return fail(HttpFailure::malformed, fmt::format("bad Content-Length '{}'", value));
      }
      h.length = n;
    }
  }
  return h;
}

class BodyReader {
 public:
  BodyReader(Conn& c, const UnixHttpOptions& o, HttpResponse& r) : conn_(c), opts_(o), resp_(r) {}

  std::expected<void, Fail> deliver(std::string_view bytes) {
    if (bytes.empty()) return {};
    if (opts_.sink) {
      if (!opts_.sink(bytes)) return std::unexpected<Fail>(Stopped{});
      return {};
    }
    if (auto room = room_for(bytes.size()); !room) return room;
    resp_.body.append(bytes);
    return {};
  }

  std::expected<void, Fail> room_for(std::size_t n) const {
    if (!opts_.sink && n > opts_.max_body - resp_.body.size()) {
      return fail(HttpFailure::too_large, fmt::format("the reply body is larger than {} bytes", opts_.max_body));
    }
    return {};
  }

  // Exactly `n` bytes (Content-Length, or one chunk).
  std::expected<void, Fail> exactly(std::size_t n, std::string_view what) {
    if (auto room = room_for(n); !room) return room;
    std::size_t got = 0;
    while (got < n) {
      auto& buf = conn_.buf();
      if (buf.empty()) {
        auto more = conn_.read_more();
        if (!more) return std::unexpected(more.error());
        if (!*more) {
          return fail(HttpFailure::closed_early,
                      fmt::format("the engine closed the connection after {} of the {} bytes of {}", got, n, what));
        }
        continue;
      }
      const std::size_t take = std::min(n - got, buf.size());
      auto d = deliver(std::string_view(buf).substr(0, take));
      buf.erase(0, take);
      if (!d) return d;
      got += take;
    }
    return {};
  }

  std::expected<void, Fail> chunked() {
    for (;;) {
      auto line = conn_.read_line(kMaxChunkLine, "chunk-size line");
      if (!line) return std::unexpected(line.error());
      const std::string_view size_text = trim(std::string_view(*line).substr(0, line->find(';')));
      std::size_t size = 0;
      const auto [p, ec] = std::from_chars(size_text.data(), size_text.data() + size_text.size(), size, 16);
      if (size_text.empty() || ec != std::errc{} || p != size_text.data() + size_text.size()) {
        return fail(HttpFailure::malformed, fmt::format("bad chunk size '{}'", line->substr(0, 80)));
      }
      if (size == 0) break;
      if (auto d = exactly(size, "a chunk"); !d) return d;
      auto end = conn_.read_line(kMaxChunkLine, "chunk");
      if (!end) return std::unexpected(end.error());
      if (!end->empty()) return fail(HttpFailure::malformed, "a chunk longer than its size");
    }
    // Trailers, up to the empty line; they carry nothing this client uses.
    std::size_t trailer_bytes = 0;
    for (;;) {
      auto t = conn_.read_line(kMaxHead, "trailer");
      if (!t) return std::unexpected(t.error());
      if (t->empty()) return {};
      trailer_bytes += t->size();
      if (trailer_bytes > kMaxHead) return fail(HttpFailure::too_large, fmt::format("trailers longer than {} bytes", kMaxHead));
    }
  }

  std::expected<void, Fail> to_end() {
    for (;;) {
      auto& buf = conn_.buf();
      if (!buf.empty()) {
        auto d = deliver(buf);
        buf.clear();
        if (!d) return d;
      }
      auto more = conn_.read_more();
      if (!more) return std::unexpected(more.error());
      if (!*more) return {};
    }
  }

 private:
  Conn& conn_;
  const UnixHttpOptions& opts_;
  HttpResponse& resp_;
};

std::expected<std::string, Fail> read_head(Conn& conn) {
  for (;;) {
    auto& buf = conn.buf();
    const auto end = buf.find("\r\n\r\n");
    if (end != std::string::npos && end + 4 <= kMaxHead) {
      std::string head = buf.substr(0, end + 2);  // keeps the last header's CRLF
      buf.erase(0, end + 4);
      return head;
    }
    if (buf.size() >= kMaxHead) return fail(HttpFailure::too_large, fmt::format("reply headers longer than {} bytes", kMaxHead));
    auto more = conn.read_more();
    if (!more) return std::unexpected(more.error());
    if (!*more) {
      return fail(HttpFailure::closed_early, buf.empty() ? "the engine closed the connection without a reply"
                                                         : "the engine closed the connection in the reply's headers");
    }
  }
}

std::expected<void, Fail> exchange(Conn& conn, const UnixHttpRequest& req, const UnixHttpOptions& opts, HttpResponse& resp) {
  std::string out = fmt::format("{} {} HTTP/1.1\r\nHost: docker\r\nUser-Agent: task-watchdog\r\nConnection: close\r\n", req.method,
                                req.target);
  if (!req.content_type.empty()) out += fmt::format("Content-Type: {}\r\n", req.content_type);
  if (!req.body.empty() || req.method == "POST" || req.method == "PUT") out += fmt::format("Content-Length: {}\r\n", req.body.size());
  out += "\r\n";
  out += req.body;
  if (auto s = conn.send_all(out); !s) return s;

  Head head;
  for (;;) {
    auto text = read_head(conn);
    if (!text) return std::unexpected(text.error());
    auto h = parse_head(*text);
    if (!h) return std::unexpected(h.error());
    head = *h;
    if (head.status >= 200 || head.status == 101) break;  // 100 Continue and friends come before the reply
  }
  resp.status = head.status;
  BodyReader body(conn, opts, resp);
  if (req.method == "HEAD" || head.status == 204 || head.status == 304 || head.status < 200) return {};
  if (head.chunked) return body.chunked();
  if (head.length) return body.exactly(*head.length, "the reply body");
  return body.to_end();
}

}  // namespace

std::expected<HttpResponse, HttpError> unix_http(const std::string& socket_path, const UnixHttpRequest& req,
                                                 const UnixHttpOptions& opts) {
  std::optional<Clock::time_point> deadline;
  if (opts.timeout.count() > 0) deadline = Clock::now() + opts.timeout;
  auto give_up = Clock::now() + opts.connect_timeout;
  if (deadline) give_up = std::min(give_up, *deadline);
  HttpResponse resp;
  std::expected<void, Fail> done;
  if (auto fd = connect_unix(socket_path, give_up, opts.cancel); !fd) {
    done = std::unexpected(std::move(fd.error()));
  } else {
    Conn conn(std::move(*fd), deadline, opts.cancel);
    done = exchange(conn, req, opts, resp);
  }
  if (!done) {
    if (auto* e = std::get_if<HttpError>(&done.error())) return std::unexpected(std::move(*e));
    resp.cancelled = std::get<Stopped>(done.error()).cancelled;
  }
  return resp;
}

}  // namespace airssys::watchdog::container
