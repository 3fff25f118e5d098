#pragma once
// Names and service groups, per ActorSystem (ActorSystem::registry()).
//  - Unique names: register_name() fails with ErrorCategory::name_taken while the
//    holder is alive; the name is removed automatically when it terminates.
//  - Typed lookup: whereis<Ms...>() succeeds only if the name was registered
//    with exactly ActorRef<Ms...> (a checked cast, never a blind one).
//  - Groups: any number of actors per group, an actor in many groups;
//    terminated members are removed automatically.
// Thread-safety: every member function is thread-safe (one mutex; lookups
// are not on the message path).
#include <airssys/rt/actor_ref.hpp>
#include <airssys/rt/error.hpp>
#include <expected>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace airssys::rt {

class Registry {
 public:
  template <class... Ms>
  [[nodiscard]] std::expected<void, Error> register_name(const std::string& name, const ActorRef<Ms...>& ref) {
    return add_name(name, ref, detail::type_tag<ActorRef<Ms...>>);
  }
  void unregister_name(const std::string& name);
  [[nodiscard]] std::expected<AnyRef, Error> whereis_any(const std::string& name) const;
  template <class... Ms>
  [[nodiscard]] std::expected<ActorRef<Ms...>, Error> whereis(const std::string& name) const {
    auto r = lookup(name, detail::type_tag<ActorRef<Ms...>>);
    if (!r) return std::unexpected(r.error());
    return ActorRef<Ms...>(r->cell());
  }

  void join(const std::string& group, const AnyRef& ref);
  void leave(const std::string& group, const AnyRef& ref);
  [[nodiscard]] std::vector<AnyRef> members(const std::string& group) const;

  // Called by the runtime when an actor that was registered terminates.
  void on_terminated(ActorId id);

 private:
  struct Entry {
    AnyRef ref;
    detail::TypeTag tag;
  };
  [[nodiscard]] std::expected<void, Error> add_name(const std::string& name, const AnyRef& ref, detail::TypeTag tag);
  [[nodiscard]] std::expected<AnyRef, Error> lookup(const std::string& name, detail::TypeTag tag) const;

  mutable std::mutex m_;
  std::unordered_map<std::string, Entry> names_;
  std::unordered_map<std::string, std::vector<AnyRef>> groups_;
};

}  // namespace airssys::rt
