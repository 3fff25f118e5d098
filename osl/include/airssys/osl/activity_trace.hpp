#pragma once
// W3C Trace Context (https://www.w3.org/TR/trace-context/): a caller's trace
// carried into the activity records of the operations it runs, so a record
// joins the caller's trace in a SIEM or tracing backend.
//
// The caller installs a TraceScope on the thread that runs the operations:
//
//   auto tp = osl::TraceContext::parse(request.header("traceparent"));
//   if (!tp) return reject(tp.error());
//   osl::TraceScope scope(*tp);
//   system.run("alice", osl::fs::Read{...});   // records carry tp's trace_id and parent_id
//
// Scopes nest (the innermost is in force; its end restores the outer one)
// and are per thread, like OpenTelemetry's context: work handed to another
// thread needs its own scope there. A record takes the context in force on
// the thread that makes it; the library's own implied actions (the kill of a
// dropped Process) take the one of the thread that triggers them.
// osl does not start spans or make up ids: without a scope, records carry
// no trace fields.

#include <airssys/osl/error.hpp>

#include <array>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

namespace airssys::osl {

class TraceContext {
 public:
  // Strictly a version-00 traceparent: "00-" 32 lowercase hex (trace-id, not
  // all zero) "-" 16 lowercase hex (parent-id, not all zero) "-" 2 lowercase
  // hex (flags), 55 characters, nothing before or after. Anything else is
  // invalid_argument with a message saying what is wrong, e.g.
  // "'00-ABC…' is not a W3C traceparent: trace-id must be lowercase hex".
  [[nodiscard]] static std::expected<TraceContext, Error> parse(std::string_view traceparent);

  [[nodiscard]] std::string_view trace_id() const noexcept { return {trace_id_.data(), trace_id_.size()}; }
  [[nodiscard]] std::string_view parent_id() const noexcept { return {parent_id_.data(), parent_id_.size()}; }
  [[nodiscard]] std::string_view flags() const noexcept { return {flags_.data(), flags_.size()}; }  // "01"
  [[nodiscard]] bool sampled() const noexcept;
  [[nodiscard]] std::string traceparent() const;  // the canonical header value

  friend bool operator==(const TraceContext&, const TraceContext&) = default;

 private:
  TraceContext() = default;
  std::array<char, 32> trace_id_{};
  std::array<char, 16> parent_id_{};
  std::array<char, 2> flags_{};
};

// Puts `context` in force on this thread until the scope ends. Not movable:
// it restores the previous context in its destructor, so scopes must end in
// reverse order of their start (as automatic variables do).
class TraceScope {
 public:
  explicit TraceScope(const TraceContext& context) noexcept;
  ~TraceScope();
  TraceScope(const TraceScope&) = delete;
  TraceScope& operator=(const TraceScope&) = delete;

  // The context in force on this thread, if any.
  [[nodiscard]] static std::optional<TraceContext> current() noexcept;

 private:
  std::optional<TraceContext> previous_;
};

}  // namespace airssys::osl
