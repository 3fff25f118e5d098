#pragma once
// Strict reading of JSON objects with nlohmann::json, for decoders whose
// errors must name the field ("agent_status.procmond.pid: not an integer").
// Private to the daemoneye library.
//
// The readers throw JsonFieldError; a decoder catches it at its boundary and
// returns the text (nothing outside the library sees the exception).

#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include <string>
#include <string_view>
#include <utility>

namespace airssys::daemoneye::detail {

struct JsonFieldError {
  std::string what;
};

inline const nlohmann::json& json_field(const nlohmann::json& j, const char* key, std::string_view where) {
  auto it = j.find(key);
  if (it == j.end()) throw JsonFieldError{fmt::format("{}.{}: missing", where, key)};
  return *it;
}

inline const nlohmann::json& json_object(const nlohmann::json& j, const char* key, std::string_view where) {
  const auto& v = json_field(j, key, where);
  if (!v.is_object()) throw JsonFieldError{fmt::format("{}.{}: not an object", where, key)};
  return v;
}

inline const nlohmann::json& json_array(const nlohmann::json& j, const char* key, std::string_view where) {
  const auto& v = json_field(j, key, where);
  if (!v.is_array()) throw JsonFieldError{fmt::format("{}.{}: not an array", where, key)};
  return v;
}

// nlohmann's get<T>() narrows silently, so the range is checked here.
template <class T>
T json_int(const nlohmann::json& v, std::string_view what) {
  if (!v.is_number_integer()) throw JsonFieldError{fmt::format("{}: not an integer", what)};
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    if (std::in_range<T>(u)) return static_cast<T>(u);
  } else {
    const auto i = v.get<std::int64_t>();
    if (std::in_range<T>(i)) return static_cast<T>(i);
  }
  throw JsonFieldError{fmt::format("{}: out of range", what)};
}

template <class T>
void json_get(const nlohmann::json& j, const char* key, T& out, std::string_view where) {
  const auto& v = json_field(j, key, where);
  if constexpr (std::is_same_v<T, bool>) {
    if (!v.is_boolean()) throw JsonFieldError{fmt::format("{}.{}: not a boolean", where, key)};
    out = v.get<bool>();
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!v.is_string()) throw JsonFieldError{fmt::format("{}.{}: not a string", where, key)};
    out = v.get<std::string>();
  } else {
    out = json_int<T>(v, fmt::format("{}.{}", where, key));
  }
}

}  // namespace airssys::daemoneye::detail
