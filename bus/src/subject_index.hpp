#pragma once
// SubjectIndex<T>: subscription patterns in a trie by token, so matching a
// published subject costs O(tokens x wildcard branches), not O(subscriptions).
// Patterns must be valid (validate_subscribe_subject); subjects literal.
// Not thread-safe; the broker uses it from its one loop thread.

#include <algorithm>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace airssys::bus::detail {

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

template <class T>
class SubjectIndex {
 public:
  void insert(std::string_view pattern, T value) {
    Node* n = &root_;
    std::string_view rest = pattern;
    while (true) {
      const std::size_t dot = rest.find('.');
      const std::string_view tok = rest.substr(0, dot);
      if (tok == ">") {
        n->rest.push_back(value);
        break;
      }
      n = child_for_insert(*n, tok);
      if (dot == std::string_view::npos) {
        n->here.push_back(value);
        break;
      }
      rest.remove_prefix(dot + 1);
    }
    ++size_;
  }

  // Removes one (pattern, value) entry; returns whether it was there.
  bool erase(std::string_view pattern, const T& value) {
    const bool found = erase_at(root_, pattern, value);
    if (found) --size_;
    return found;
  }

  // Calls f(value) once per entry whose pattern matches `subject`.
  template <class F>
  void match(std::string_view subject, F&& f) const {
    match_at(root_, subject, false, f);
  }

  [[nodiscard]] std::size_t size() const noexcept { return size_; }

 private:
  struct Node {
    std::unordered_map<std::string, std::unique_ptr<Node>, StringHash, std::equal_to<>> literal;
    std::unique_ptr<Node> star;
    std::vector<T> here;  // patterns that end at this node
    std::vector<T> rest;  // patterns "<path to this node>.>"
    [[nodiscard]] bool empty() const noexcept { return literal.empty() && !star && here.empty() && rest.empty(); }
  };

  static Node* child_for_insert(Node& n, std::string_view tok) {
    if (tok == "*") {
      if (!n.star) n.star = std::make_unique<Node>();
      return n.star.get();
    }
    auto it = n.literal.find(tok);
    if (it == n.literal.end()) it = n.literal.emplace(std::string(tok), std::make_unique<Node>()).first;
    return it->second.get();
  }

  static bool remove_from(std::vector<T>& v, const T& value) {
    const auto it = std::find(v.begin(), v.end(), value);
    if (it == v.end()) return false;
    v.erase(it);
    return true;
  }

  // Recursive so empty nodes are pruned on the way back up (memory stays
  // proportional to live subscriptions).
  static bool erase_at(Node& n, std::string_view rest, const T& value) {
    const std::size_t dot = rest.find('.');
    const std::string_view tok = rest.substr(0, dot);
    if (tok == ">") return remove_from(n.rest, value);
    Node* child = nullptr;
    if (tok == "*") {
      child = n.star.get();
    } else if (const auto it = n.literal.find(tok); it != n.literal.end()) {
      child = it->second.get();
    }
    if (child == nullptr) return false;
    const bool found = dot == std::string_view::npos ? remove_from(child->here, value)
                                                      : erase_at(*child, rest.substr(dot + 1), value);
    if (found && child->empty()) {
      if (tok == "*") {
        n.star.reset();
      } else {
        n.literal.erase(n.literal.find(tok));
      }
    }
    return found;
  }

  // `rest` holds the subject tokens not yet consumed; `done` is true once all
  // are consumed.
  template <class F>
  static void match_at(const Node& n, std::string_view rest, bool done, F& f) {
    if (done) {
      for (const T& v : n.here) f(v);
      return;
    }
    for (const T& v : n.rest) f(v);  // at least one token remains
    const std::size_t dot = rest.find('.');
    const std::string_view tok = rest.substr(0, dot);
    const bool last = dot == std::string_view::npos;
    const std::string_view next = last ? std::string_view{} : rest.substr(dot + 1);
    if (const auto it = n.literal.find(tok); it != n.literal.end()) match_at(*it->second, next, last, f);
    if (n.star) match_at(*n.star, next, last, f);
  }

  Node root_;
  std::size_t size_ = 0;
};

}  // namespace airssys::bus::detail
