#pragma once
// Minimal intrusive reference-counted pointer. T provides add_ref() and
// release() (release destroys at zero). Copying is thread-safe as long as the
// source is not concurrently reassigned, like std::shared_ptr.
#include <utility>

namespace airssys::rt::detail {

struct AdoptRef {};

template <class T>
class IntrusivePtr {
 public:
  IntrusivePtr() noexcept = default;
  explicit IntrusivePtr(T* p) noexcept : p_(p) { if (p_) p_->add_ref(); }
  IntrusivePtr(T* p, AdoptRef) noexcept : p_(p) {}
  IntrusivePtr(const IntrusivePtr& o) noexcept : p_(o.p_) { if (p_) p_->add_ref(); }
  IntrusivePtr(IntrusivePtr&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  template <class U>
  IntrusivePtr(const IntrusivePtr<U>& o) noexcept : IntrusivePtr(o.get()) {}
  IntrusivePtr& operator=(IntrusivePtr o) noexcept { std::swap(p_, o.p_); return *this; }
  ~IntrusivePtr() { if (p_) p_->release(); }

  T* get() const noexcept { return p_; }
  T* operator->() const noexcept { return p_; }
  T& operator*() const noexcept { return *p_; }
  explicit operator bool() const noexcept { return p_ != nullptr; }
  T* detach() noexcept { return std::exchange(p_, nullptr); }
  void reset() noexcept { IntrusivePtr().swap(*this); }
  void swap(IntrusivePtr& o) noexcept { std::swap(p_, o.p_); }
  friend bool operator==(const IntrusivePtr& a, const IntrusivePtr& b) noexcept { return a.p_ == b.p_; }

 private:
  T* p_ = nullptr;
};

}  // namespace airssys::rt::detail
