// Buffers whose resize() does not write: pages of large activation and KV buffers become
// resident only when first used, so RSS tracks what a run touches, not what it might.
#pragma once

#include <memory>
#include <new>
#include <type_traits>
#include <vector>

namespace gemrun {

// std::allocator that default-initialises (no zeroing) on value-less construct.
template <typename T>
struct UninitAllocator : std::allocator<T> {
  template <typename U>
  struct rebind {
    using other = UninitAllocator<U>;
  };
  UninitAllocator() = default;
  template <typename U>
  UninitAllocator(const UninitAllocator<U>&) noexcept {}  // NOLINT: allocator conversion
  template <typename U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

template <typename T>
using Buffer = std::vector<T, UninitAllocator<T>>;

}  // namespace gemrun
