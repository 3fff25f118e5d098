#include <airssys/rt/registry.hpp>

#include <algorithm>

namespace airssys::rt {

std::expected<void, Error> Registry::add_name(const std::string& name, const AnyRef& ref, detail::TypeTag tag) {
  if (!ref.valid() || ref.stopped())
    return std::unexpected(Error{ErrorCategory::actor_stopped, "actor has stopped"});
  // Whoever finds the name after this comes after the handler's chained
  // tells (detail::flush_outbox(); the same in every change below).
  detail::flush_outbox();
  {
    std::lock_guard lk(m_);
    auto it = names_.find(name);
    if (it != names_.end() && !it->second.ref.stopped())
      return std::unexpected(Error{ErrorCategory::name_taken, "name already registered: " + name});
    names_[name] = Entry{ref, tag};
  }
  ref.cell()->mark_registered();
  // Terminated between the check and the mark: its terminate() may have
  // missed the mark, so clean up here.
  if (ref.stopped()) on_terminated(ref.id());
  return {};
}

void Registry::unregister_name(const std::string& name) {
  detail::flush_outbox();
  std::lock_guard lk(m_);
  names_.erase(name);
}

std::expected<AnyRef, Error> Registry::whereis_any(const std::string& name) const { return lookup(name, nullptr); }

std::expected<AnyRef, Error> Registry::lookup(const std::string& name, detail::TypeTag tag) const {
  std::lock_guard lk(m_);
  auto it = names_.find(name);
  if (it == names_.end() || it->second.ref.stopped())
    return std::unexpected(Error{ErrorCategory::not_found, "no such name: " + name});
  if (tag != nullptr && it->second.tag != tag)
    return std::unexpected(
        Error{ErrorCategory::invalid_argument, "registered with another reference type: " + name});
  return it->second.ref;
}

void Registry::join(const std::string& group, const AnyRef& ref) {
  if (!ref.valid() || ref.stopped()) return;
  detail::flush_outbox();
  {
    std::lock_guard lk(m_);
    auto& v = groups_[group];
    if (std::find(v.begin(), v.end(), ref) == v.end()) v.push_back(ref);
  }
  ref.cell()->mark_registered();
  if (ref.stopped()) on_terminated(ref.id());
}

void Registry::leave(const std::string& group, const AnyRef& ref) {
  detail::flush_outbox();
  std::lock_guard lk(m_);
  auto it = groups_.find(group);
  if (it == groups_.end()) return;
  std::erase(it->second, ref);
  if (it->second.empty()) groups_.erase(it);
}

std::vector<AnyRef> Registry::members(const std::string& group) const {
  std::lock_guard lk(m_);
  std::vector<AnyRef> out;
  auto it = groups_.find(group);
  if (it == groups_.end()) return out;
  for (auto& r : it->second)
    if (!r.stopped()) out.push_back(r);
  return out;
}

void Registry::on_terminated(ActorId id) {
  std::vector<AnyRef> dropped;  // released outside the lock
  std::lock_guard lk(m_);
  for (auto it = names_.begin(); it != names_.end();) {
    if (it->second.ref.id() == id) {
      dropped.push_back(std::move(it->second.ref));
      it = names_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = groups_.begin(); it != groups_.end();) {
    auto& v = it->second;
    for (auto m = v.begin(); m != v.end();) {
      if (m->id() == id) {
        dropped.push_back(std::move(*m));
        m = v.erase(m);
      } else {
        ++m;
      }
    }
    it = v.empty() ? groups_.erase(it) : std::next(it);
  }
}

}  // namespace airssys::rt
