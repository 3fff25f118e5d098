#pragma once
// Test helpers for the library's JSON codecs (status.json, procmond's
// messages): walk every value of a pinned document, check that a decoder
// names each field it refuses, and that a sample can show a swap.
//
// Why distinct values: a (key, member) table (json_fields.hpp) writes and
// reads a field through the same pointer, so two swapped pointers still
// round-trip; only pinned bytes whose sibling values all differ see it.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>

namespace airssys::daemoneye::testing {

// f(path, pointer, value) for every scalar of j; path names it as the
// decoders do: root, then ".key" or "[i]" ("snapshot.processes[0].pid").
using JsonLeafFn =
    std::function<void(const std::string& path, const nlohmann::json::json_pointer&, const nlohmann::json&)>;

inline void each_leaf(const nlohmann::json& j, const std::string& path, const JsonLeafFn& f,
                      const nlohmann::json::json_pointer& ptr = nlohmann::json::json_pointer()) {
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) each_leaf(v, path + "." + k, f, ptr / k);
  } else if (j.is_array()) {
    for (std::size_t i = 0; i < j.size(); ++i) each_leaf(j[i], fmt::format("{}[{}]", path, i), f, ptr / i);
  } else {
    f(path, ptr, j);
  }
}

// The decoder under test: the message of its refusal, or nullopt when it accepts the text.
using JsonDecodeFn = std::function<std::optional<std::string>(const std::string& text)>;

// A JsonDecodeFn of a library decoder (text -> Result<T>).
template <class Decoder>
JsonDecodeFn refusal_of(Decoder decoder) {
  return [decoder](const std::string& text) -> std::optional<std::string> {
    auto r = decoder(text);
    if (r) return std::nullopt;
    return r.error().message;
  };
}

// What a field's check says of a value of the wrong type ("...: not a
// string"), given the path and the good value; the default suits json_get.
using JsonTypeErrorFn = std::function<std::string(const std::string& path, const nlohmann::json& good)>;

inline std::string json_get_type_error(const std::string&, const nlohmann::json& good) {
  if (good.is_string()) return ": not a string";
  if (good.is_boolean()) return ": not a boolean";
  if (good.is_number_float()) return ": not a number";
  return ": not an integer";
}

// Every scalar of `good`, in turn: replaced by a value of another type, the
// text is refused with path + type_error; removed, it is refused with
// "path: missing", unless optional(path) (then it must be accepted). An
// array element is not removed (it is not a field). Returns how many
// scalars were tried, for the caller to pin.
inline std::size_t expect_each_field_checked(const nlohmann::json& good, const std::string& root,
                                             const JsonDecodeFn& decode,
                                             const std::function<bool(const std::string& path)>& optional,
                                             const JsonTypeErrorFn& type_error = json_get_type_error) {
  std::size_t leaves = 0;
  each_leaf(good, root, [&](const std::string& path, const nlohmann::json::json_pointer& ptr, const nlohmann::json& v) {
    ++leaves;
    nlohmann::json wrong = good;
    if (v.is_string() || v.is_boolean())
      wrong[ptr] = 1;
    else
      wrong[ptr] = "1";
    auto error = decode(wrong.dump());
    EXPECT_EQ(error, path + type_error(path, v)) << path;

    const auto parent = ptr.parent_pointer();
    if (good[parent].is_array()) return;
    nlohmann::json missing = good;
    missing[parent].erase(ptr.back());
    error = decode(missing.dump());
    if (optional(path))
      EXPECT_EQ(error, std::nullopt) << path;
    else
      EXPECT_EQ(error, path + ": missing") << path;
  });
  return leaves;
}

// No two values side by side in one object (or array) of j are the same.
inline void expect_sibling_values_distinct(const nlohmann::json& j, const std::string& root) {
  std::set<std::pair<std::string, std::string>> seen;  // (parent pointer, value as JSON)
  each_leaf(j, root, [&](const std::string& path, const nlohmann::json::json_pointer& ptr, const nlohmann::json& v) {
    EXPECT_TRUE(seen.emplace(ptr.parent_pointer().to_string(), v.dump()).second)
        << path << " has the value of another field beside it: " << v.dump();
  });
}

}  // namespace airssys::daemoneye::testing
