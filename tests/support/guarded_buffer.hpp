// SPDX-License-Identifier: Apache-2.0
// A test buffer with sentinel-filled guard zones before and after the payload, so a kernel that
// reads or writes past a view shows up as changed guard bytes. The payload can start a chosen
// number of elements past an aligned address (a "base pointer off by one element").
#ifndef ROPESCALE_TESTS_SUPPORT_GUARDED_BUFFER_HPP
#define ROPESCALE_TESTS_SUPPORT_GUARDED_BUFFER_HPP

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ropescale_test {

template <class T>
class guarded_buffer {
 public:
  static constexpr std::size_t guard_bytes = 256;
  static constexpr unsigned char sentinel = 0xA5;

  /// `count` elements, starting `offset_elems` elements past a 64-byte boundary.
  explicit guarded_buffer(std::size_t count, std::size_t offset_elems = 0)
      : count_(count), offset_(offset_elems * sizeof(T)) {
    storage_.assign(guard_bytes + 64 + offset_ + count * sizeof(T) + guard_bytes, sentinel);
    const auto base = reinterpret_cast<std::uintptr_t>(storage_.data()) + guard_bytes;
    const std::uintptr_t aligned = (base + 63) & ~std::uintptr_t{63};
    begin_ = static_cast<std::size_t>(aligned - reinterpret_cast<std::uintptr_t>(storage_.data())) +
             offset_;
    // A loop, not memset: g++ 12 (C++20, -O2) propagated an impossible "negative" size into the
    // memset bound and raised -Wstringop-overflow.
    const std::size_t end = begin_ + count * sizeof(T);
    for (std::size_t i = begin_; i < end; ++i) storage_[i] = 0;
  }

  T* data() noexcept { return reinterpret_cast<T*>(storage_.data() + begin_); }
  const T* data() const noexcept { return reinterpret_cast<const T*>(storage_.data() + begin_); }
  std::size_t size() const noexcept { return count_; }
  T& operator[](std::size_t i) noexcept { return data()[i]; }

  /// True if every byte outside the payload still holds the sentinel.
  bool guards_intact() const noexcept {
    const std::size_t end = begin_ + count_ * sizeof(T);
    for (std::size_t i = 0; i < storage_.size(); ++i) {
      if ((i < begin_ || i >= end) && storage_[i] != sentinel) return false;
    }
    return true;
  }

 private:
  std::size_t count_;
  std::size_t offset_;
  std::size_t begin_ = 0;
  std::vector<unsigned char> storage_;
};

}  // namespace ropescale_test

#endif  // ROPESCALE_TESTS_SUPPORT_GUARDED_BUFFER_HPP
