// System::run for an External operation (external.hpp): the pipeline with
// a start record made durable before the caller's action runs.

#include <airssys/osl/system.hpp>

#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "core/core.hpp"

namespace airssys::osl {

namespace {

// Why `op` cannot be recorded as asked, if it cannot.
std::optional<Error> malformed(const External& op) {
  if (op.resources.empty()) return Error::make(ErrorCategory::invalid_argument, "an external operation names no resource");
  for (const std::string& r : op.resources) {
    if (r.empty()) return Error::make(ErrorCategory::invalid_argument, "an external operation's resource is empty");
    if (r.find('\0') != std::string::npos) {
      return Error::make(ErrorCategory::invalid_argument, "an external operation's resource contains a NUL byte");
    }
  }
  if (!op.detail_json.empty()) {
    const auto j = nlohmann::json::parse(op.detail_json, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) {
      return Error::make(ErrorCategory::invalid_argument,
                         fmt::format("an external operation's detail is not a JSON object: '{:.60}'", op.detail_json));
    }
  }
  return std::nullopt;
}

}  // namespace

std::expected<Done, Error> System::run(std::string_view principal, const External& op, const ExternalAction& action) {
  detail::Request req{.kind = op.kind, .checks = {detail::Check{op.kind, op.resources, {}}}};
  req.invalid = malformed(op);
  if (!req.invalid && !action) req.invalid = Error::make(ErrorCategory::invalid_argument, "an external operation has no action");
  if (!req.invalid) req.detail_json = op.detail_json;
  req.durable_start = true;
  return core_->pipeline<Done>(principal, std::move(req), [&](std::uint64_t) -> std::expected<Done, Error> {
    auto r = action();
    if (!r) return std::unexpected(std::move(r.error()));
    return Done{};
  });
}

}  // namespace airssys::osl
