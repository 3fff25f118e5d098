#pragma once
// One table of (JSON key, member pointer) per struct drives both its encoder
// and its decoder, so a field cannot be written under one name and read under
// another, or written and never read. Private to the daemoneye library.
//
//   constexpr auto kFields = std::tuple{json_member("published", &Counters::published), ...};
//   put_fields(out, counters, kFields);          // keys in table order (ordered_json)
//   fields_json<ordered_json>(counters, kFields) // the same, into a new object
//   get_fields(j, counters, kFields, "where");   // json_get's checks and messages
//
// A table holds plain values only (integers, bool, std::string); a field with
// its own shape (a list, a map, a nested object, a double) is written and
// read by hand between two tables, which keeps the order of the keys in the
// file (and the order in which a decoder finds faults). `out` may be an
// ordered_json (keys in table order) or a json (keys sorted).
//
// A field sent only when known (procmond's kernel extras):
//   json_sometimes("exit_code", &ProcessEvent::exit_code, [](const std::int64_t& v) { return v >= 0; })
// is written when the predicate holds and may be absent when read.

#include <nlohmann/json.hpp>

#include <string_view>
#include <tuple>
#include <type_traits>

#include "json_read.hpp"

namespace airssys::daemoneye::detail {

template <class S, class T>
struct JsonMember {
  const char* name;
  T S::*member;
  // Absent from files written before the field existed: the member keeps the
  // value it had (its default). A present one is checked like any other.
  bool optional = false;
  // When set, the field is written only if written(value) holds.
  bool (*written)(const T&) = nullptr;
};

template <class S, class T>
constexpr JsonMember<S, T> json_member(const char* name, T S::*member, bool optional = false) {
  return {name, member, optional};
}

template <class S, class T>
constexpr JsonMember<S, T> json_sometimes(const char* name, T S::*member,
                                          std::type_identity_t<bool (*)(const T&)> written) {
  return {name, member, /*optional=*/true, written};
}

template <class J, class S, class... T>
void put_fields(J& out, const S& s, const std::tuple<JsonMember<S, T>...>& fields) {
  std::apply(
      [&](const auto&... f) {
        ((f.written && !f.written(s.*f.member) ? void() : void(out[f.name] = s.*f.member)), ...);
      },
      fields);
}

// A new object holding s's fields of one table: J = ordered_json keeps the
// table's order, nlohmann::json sorts the keys.
template <class J, class S, class Fields>
J fields_json(const S& s, const Fields& fields) {
  J out = J::object();
  put_fields(out, s, fields);
  return out;
}

template <class S, class... T>
void get_fields(const nlohmann::json& j, S& s, const std::tuple<JsonMember<S, T>...>& fields,
                std::string_view where) {
  std::apply(
      [&](const auto&... f) {
        ((f.optional && !j.contains(f.name) ? void() : json_get(j, f.name, s.*f.member, where)), ...);
      },
      fields);
}

}  // namespace airssys::daemoneye::detail
