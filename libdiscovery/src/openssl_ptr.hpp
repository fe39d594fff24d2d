// unique_ptr ownership of OpenSSL objects (internal; tests use it too).
#pragma once

#include <memory>

namespace discovery::detail {

template <auto Free>
struct OpensslDeleter {
  template <class T>
  void operator()(T* p) const noexcept {
    Free(p);
  }
};

}  // namespace discovery::detail
