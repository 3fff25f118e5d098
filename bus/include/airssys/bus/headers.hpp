#pragma once
// Message headers, like NATS's: any number of NAME: VALUE pairs per message,
// carried unchanged from publisher to subscribers (docs/bus.md "Headers").
//
// A name is 1..256 bytes of printable ASCII without ':' (0x21..0x7e);
// a value is any bytes except NUL, CR and LF. Names are compared exactly
// (case-sensitive) and may repeat; order is kept. The total is bounded only
// by the frame limit.
//
// On the wire they are protobuf field 13 of the frame, one `Header` message
// per pair; `Headers` is a view over those bytes (no allocation), valid as
// long as the MessageView it came from.

#include <airssys/bus/error.hpp>

#include <cstddef>
#include <expected>
#include <iterator>
#include <optional>
#include <string_view>

namespace airssys::bus {

struct Header {
  std::string_view name{}, value{};
};

// ErrorCategory::invalid_argument naming what is wrong, or ok.
[[nodiscard]] std::expected<void, Error> validate_header(const Header& h);

class Headers {
 public:
  Headers() = default;
  // `wire`: consecutive encoded field-13 entries, as the frame decoder
  // checked them.
  explicit Headers(std::string_view wire) noexcept : wire_(wire) {}

  class iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = Header;
    using difference_type = std::ptrdiff_t;
    using pointer = const Header*;
    using reference = const Header&;
    iterator() = default;
    explicit iterator(std::string_view rest) noexcept : rest_(rest) { advance(); }
    reference operator*() const noexcept { return cur_; }
    pointer operator->() const noexcept { return &cur_; }
    iterator& operator++() noexcept {
      advance();
      return *this;
    }
    iterator operator++(int) noexcept {
      iterator t = *this;
      advance();
      return t;
    }
    friend bool operator==(const iterator& a, const iterator& b) noexcept {
      return a.done_ == b.done_ && (a.done_ || a.rest_.data() == b.rest_.data());
    }

   private:
    void advance() noexcept;
    std::string_view rest_;
    Header cur_;
    bool done_ = true;
  };

  [[nodiscard]] iterator begin() const noexcept { return iterator(wire_); }
  [[nodiscard]] iterator end() const noexcept { return {}; }
  [[nodiscard]] bool empty() const noexcept { return wire_.empty(); }
  [[nodiscard]] std::size_t size() const noexcept;
  // The first value of `name`, if any.
  [[nodiscard]] std::optional<std::string_view> get(std::string_view name) const noexcept;
  [[nodiscard]] std::string_view wire() const noexcept { return wire_; }

 private:
  std::string_view wire_;
};

}  // namespace airssys::bus
