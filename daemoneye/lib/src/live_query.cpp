// Live query wire format (live_query.hpp): subjects, the signed bytes,
// request and reply JSON, running an accepted query.

#include <fmt/format.h>
#include <openssl/rand.h>

#include <airssys/daemoneye/live_query.hpp>
#include <airssys/daemoneye/live_query_keys.hpp>
#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <utility>

#include "nats_names.hpp"
#include "result_memory.hpp"

namespace airssys::daemoneye {

namespace {

using json = nlohmann::json;

constexpr std::size_t kMaxQueryBytes = 1'000'000;  // the engine's SQL text limit
constexpr std::size_t kMaxHosts = 10'000;
constexpr std::size_t kMaxNameBytes = 255;         // a host name, a reply subject

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

void field(std::string& out, std::string_view name, std::string_view value) {
  out += fmt::format("{}={}:", name, value.size());
  out += value;
  out += '\n';
}

Result<std::string> string_field(const json& j, const char* name, std::size_t max) {
  const auto it = j.find(name);
  if (it == j.end() || !it->is_string())
    return fail(ErrorCategory::invalid_input, fmt::format("live query: '{}' must be a string", name));
  auto s = it->get<std::string>();
  if (s.size() > max) return fail(ErrorCategory::invalid_input, fmt::format("live query: '{}' is longer than {} bytes", name, max));
  if (s.find('\0') != std::string::npos)
    return fail(ErrorCategory::invalid_input, fmt::format("live query: '{}' contains a NUL byte", name));
  return s;
}

Result<std::int64_t> int_field(const json& j, const char* name) {
  const auto it = j.find(name);
  if (it == j.end() || !it->is_number_integer() ||
      (it->is_number_unsigned() && it->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)))
    return fail(ErrorCategory::invalid_input, fmt::format("live query: '{}' must be an integer", name));
  return it->get<std::int64_t>();
}

Result<void> hex_field(const std::string& value, std::size_t digits, const char* name) {
  if (value.size() != digits || !from_hex(value))
    return fail(ErrorCategory::invalid_input, fmt::format("live query: '{}' must be {} lowercase hex digits", name, digits));
  return {};
}

json value_json(const Value& v) {
  if (const auto* i = std::get_if<std::int64_t>(&v)) return *i;
  if (const auto* d = std::get_if<double>(&v)) return *d;
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  return nullptr;
}

Result<ErrorCategory> category_from(std::string_view name) {
  for (const auto c : {ErrorCategory::invalid_input, ErrorCategory::not_found, ErrorCategory::denied, ErrorCategory::busy,
                       ErrorCategory::timeout, ErrorCategory::resource_exhausted, ErrorCategory::unavailable,
                       ErrorCategory::corrupt, ErrorCategory::io, ErrorCategory::internal}) {
    if (to_string(c) == name) return c;
  }
  return fail(ErrorCategory::invalid_input, fmt::format("live query reply: unknown category '{}'", name));
}

}  // namespace

std::string live_query_subject_all() { return "daemoneye.query.all"; }

std::string live_query_subject_for(std::string_view host) {
  return "daemoneye.query.host." + detail::nats_subject_host(host);
}

std::string canonical_bytes(const LiveQueryRequest& r) {
  std::string out = "daemoneye live query\n";
  field(out, "v", std::to_string(r.version));
  field(out, "key", r.key_id);
  field(out, "query", r.query);
  if (r.all_hosts) {
    field(out, "hosts", "*all*");
  } else {
    field(out, "hosts", std::to_string(r.hosts.size()));
    for (const auto& h : r.hosts) field(out, "host", h);
  }
  field(out, "nonce", r.nonce);
  field(out, "iat", std::to_string(r.issued_at));
  field(out, "exp", std::to_string(r.expires_at));
  field(out, "reply", r.reply_to);
  return out;
}

std::string encode_request(const LiveQueryRequest& r) {
  json j = json::object();
  j["v"] = r.version;
  j["key"] = r.key_id;
  j["query"] = r.query;
  j["hosts"] = r.all_hosts ? json("all") : json(r.hosts);
  j["nonce"] = r.nonce;
  j["iat"] = r.issued_at;
  j["exp"] = r.expires_at;
  j["reply"] = r.reply_to;
  if (!r.signature.empty()) j["sig"] = r.signature;
  return dump(j);
}

Result<LiveQueryRequest> decode_request(std::string_view text) {
  const json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return fail(ErrorCategory::invalid_input, "live query: not a JSON object");
  LiveQueryRequest r;
  auto v = int_field(j, "v");
  if (!v) return std::unexpected(v.error());
  if (*v != kLiveQueryVersion)
    return fail(ErrorCategory::invalid_input, fmt::format("live query: version {} (this agent speaks {})", *v, kLiveQueryVersion));
  r.version = static_cast<int>(*v);
  auto key = string_field(j, "key", 128);
  auto query = string_field(j, "query", kMaxQueryBytes);
  auto nonce = string_field(j, "nonce", 32);
  auto reply = string_field(j, "reply", kMaxNameBytes);
  auto iat = int_field(j, "iat");
  auto exp = int_field(j, "exp");
  for (const Result<std::string>* f : {&key, &query, &nonce, &reply})
    if (!*f) return std::unexpected(f->error());
  if (!iat) return std::unexpected(iat.error());
  if (!exp) return std::unexpected(exp.error());
  r.key_id = std::move(*key);
  r.query = std::move(*query);
  r.nonce = std::move(*nonce);
  r.reply_to = std::move(*reply);
  r.issued_at = *iat;
  r.expires_at = *exp;
  for (const auto& [name, t] : {std::pair{"iat", r.issued_at}, std::pair{"exp", r.expires_at}})
    if (t < 0 || t > kLiveQueryMaxTime)
      return fail(ErrorCategory::invalid_input,
                  fmt::format("live query: '{}' must be Unix seconds in 0-{}, not {}", name, kLiveQueryMaxTime, t));
  if (auto h = hex_field(r.nonce, 32, "nonce"); !h) return std::unexpected(h.error());
  const auto hosts = j.find("hosts");
  if (hosts != j.end() && hosts->is_string() && hosts->get<std::string>() == "all") {
    r.all_hosts = true;
  } else if (hosts != j.end() && hosts->is_array() && !hosts->empty() && hosts->size() <= kMaxHosts) {
    for (const auto& h : *hosts) {
      if (!h.is_string() || h.get<std::string>().empty() || h.get<std::string>().size() > kMaxNameBytes)
        return fail(ErrorCategory::invalid_input, "live query: 'hosts' must hold host names (strings of 1-255 bytes)");
      r.hosts.push_back(h.get<std::string>());
    }
  } else {
    return fail(ErrorCategory::invalid_input,
                fmt::format("live query: 'hosts' must be \"all\" or a list of 1-{} host names", kMaxHosts));
  }
  if (const auto sig = j.find("sig"); sig != j.end()) {
    if (!sig->is_string()) return fail(ErrorCategory::invalid_input, "live query: 'sig' must be a string");
    r.signature = sig->get<std::string>();
    if (auto h = hex_field(r.signature, 128, "sig"); !h) return std::unexpected(h.error());
  }
  return r;
}

Result<std::string> make_nonce() {
  std::array<unsigned char, 16> raw{};
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1)
    return fail(ErrorCategory::unavailable, "the random number generator failed");
  return to_hex({reinterpret_cast<const char*>(raw.data()), raw.size()});
}

std::string_view to_string(LiveQueryStatus s) noexcept {
  switch (s) {
    case LiveQueryStatus::ok: return "ok";
    case LiveQueryStatus::refused: return "refused";
    case LiveQueryStatus::failed: return "failed";
  }
  return "failed";
}

std::string encode_reply(const LiveQueryReply& r) {
  json j = json::object();
  j["v"] = kLiveQueryVersion;
  j["host"] = r.host;
  j["nonce"] = r.nonce;
  j["status"] = std::string(to_string(r.status));
  if (r.status != LiveQueryStatus::ok) {
    j["category"] = std::string(to_string(r.category));
    j["message"] = r.message;
  }
  j["columns"] = r.columns;
  json rows = json::array();
  for (const auto& row : r.rows) {
    json a = json::array();
    for (const auto& v : row) a.push_back(value_json(v));
    rows.push_back(std::move(a));
  }
  j["rows"] = std::move(rows);
  j["truncated"] = r.truncated;
  j["elapsed_us"] = r.elapsed_us;
  return dump(j);
}

std::size_t memory_estimate(const LiveQueryReply& r) noexcept {
  using detail::row_memory;
  using detail::string_heap;
  std::size_t n = sizeof(LiveQueryReply) + string_heap(r.host.capacity()) + string_heap(r.nonce.capacity()) +
                  string_heap(r.message.capacity());
  n += r.columns.capacity() * sizeof(std::string) + detail::kHeapBlockOverhead;
  for (const auto& c : r.columns) n += string_heap(c.capacity());
  // The rows' vector: slots reserved and not yet used, then each row (its slot included).
  n += (r.rows.capacity() - r.rows.size()) * sizeof(std::vector<Value>) + detail::kHeapBlockOverhead;
  for (const auto& row : r.rows) {
    n += row_memory(row.capacity());
    for (const auto& v : row)
      if (const auto* s = std::get_if<std::string>(&v)) n += string_heap(s->capacity());
  }
  return n;
}

Result<LiveQueryReply> decode_reply(std::string_view text) {
  const json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return fail(ErrorCategory::invalid_input, "live query reply: not a JSON object");
  try {
    LiveQueryReply r;
    if (j.at("v").get<int>() != kLiveQueryVersion)
      return fail(ErrorCategory::invalid_input, "live query reply: another version");
    r.host = j.at("host").get<std::string>();
    r.nonce = j.at("nonce").get<std::string>();
    const auto status = j.at("status").get<std::string>();
    if (status == "ok") {
      r.status = LiveQueryStatus::ok;
    } else if (status == "refused" || status == "failed") {
      r.status = status == "refused" ? LiveQueryStatus::refused : LiveQueryStatus::failed;
      auto c = category_from(j.at("category").get<std::string>());
      if (!c) return std::unexpected(c.error());
      r.category = *c;
      r.message = j.at("message").get<std::string>();
    } else {
      return fail(ErrorCategory::invalid_input, fmt::format("live query reply: unknown status '{}'", status));
    }
    r.columns = j.at("columns").get<std::vector<std::string>>();
    for (const auto& row : j.at("rows")) {
      std::vector<Value> out;
      for (const auto& v : row) {
        if (v.is_null()) out.emplace_back(std::monostate{});
        else if (v.is_number_integer()) out.emplace_back(v.get<std::int64_t>());
        else if (v.is_number()) out.emplace_back(v.get<double>());
        else if (v.is_string()) out.emplace_back(v.get<std::string>());
        else return fail(ErrorCategory::invalid_input, "live query reply: a value is not null, a number or a string");
      }
      r.rows.push_back(std::move(out));
    }
    r.truncated = j.at("truncated").get<bool>();
    r.elapsed_us = j.at("elapsed_us").get<std::int64_t>();
    return r;
  } catch (const json::exception& e) {
    return fail(ErrorCategory::invalid_input, fmt::format("live query reply: {}", e.what()));
  }
}

LiveQueryReply run_live_query(QueryEngine& engine, const LiveQueryRequest& request, std::string_view host) {
  LiveQueryReply reply;
  reply.host = std::string(host);
  reply.nonce = request.nonce;
  auto result = engine.run(request.query);
  if (!result) {
    reply.status = LiveQueryStatus::failed;
    reply.category = result.error().category;
    reply.message = result.error().message;
    return reply;
  }
  reply.columns = std::move(result->columns);
  reply.rows = std::move(result->rows);
  reply.truncated = result->truncated;
  reply.elapsed_us = result->elapsed.count();
  return reply;
}

std::string encode_reply_within(LiveQueryReply& reply, std::size_t max_bytes) {
  std::string out = encode_reply(reply);
  // Halving first, then one row at a time near the fit: a few encodes even
  // for a result far past the limit.
  while (out.size() > max_bytes && !reply.rows.empty()) {
    const double ratio = static_cast<double>(max_bytes) / static_cast<double>(out.size());
    const auto keep = ratio < 0.9 ? static_cast<std::size_t>(static_cast<double>(reply.rows.size()) * ratio)
                                  : reply.rows.size() - 1;
    reply.rows.resize(std::min(keep, reply.rows.size() - 1));
    reply.truncated = true;
    out = encode_reply(reply);
  }
  return out;
}

}  // namespace airssys::daemoneye
