// Error vocabulary (L0): errc, its std::error_category, the "what and where" error value,
// result<T> and the propagation macros. Nothing here throws or allocates, except
// error::message(), which only tools call.
//
// Codes separate what a caller acts on differently: a broken image (corrupted), a valid image
// using something not built in (unsupported), a short source (truncated), a failing source
// (io_error, or the source's own code passed through), a configured cap (limit_exceeded) and
// our own broken invariant (internal, which fuzzers turn into a crash).
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <new>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

#include "config.hpp"
#include "error_text.hpp"

namespace erofsfs {

enum class errc : int {
  corrupted = 1,      // the image breaks a format rule
  unsupported,        // valid, but uses a feature or codec that is not available
  truncated,          // a source ended before the bytes the image points at
  io_error,           // a source failed (sources usually pass their own code instead)
  not_found,          // no such directory entry / attribute
  not_a_directory,    // a path component or an argument is not a directory
  is_a_directory,     // file data asked of a directory where that makes no sense
  not_a_symlink,      // readlink on something else
  symlink_loop,       // too many symlink hops while resolving a path
  limit_exceeded,     // legal, but larger than a configured limit
  invalid_argument,   // the caller passed something unusable
  no_device,          // a device/blob the image needs was not supplied
  decompress_failed,  // a compressed stream is malformed
  protocol_error,     // a malformed message from the kernel or from an HTTP server
  internal,           // an erofsfs invariant failed; never caused by input alone
};

namespace detail {
class error_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "erofsfs"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::corrupted: return "corrupted image";
      case errc::unsupported: return "unsupported";
      case errc::truncated: return "source truncated";
      case errc::io_error: return "I/O error";
      case errc::not_found: return "not found";
      case errc::not_a_directory: return "not a directory";
      case errc::is_a_directory: return "is a directory";
      case errc::not_a_symlink: return "not a symbolic link";
      case errc::symlink_loop: return "too many levels of symbolic links";
      case errc::limit_exceeded: return "limit exceeded";
      case errc::invalid_argument: return "invalid argument";
      case errc::no_device: return "device not available";
      case errc::decompress_failed: return "decompression failed";
      case errc::protocol_error: return "protocol error";
      case errc::internal: return "internal error";
    }
    return "unknown erofsfs error";
  }
};
}  // namespace detail

// One category object for the whole program: a function-local static in an inline function
// has a single instance across translation units.
inline const std::error_category& error_category() noexcept {
  static const detail::error_category_impl instance;
  return instance;
}

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

}  // namespace erofsfs

template <>
struct std::is_error_code_enum<erofsfs::errc> : std::true_type {};

namespace erofsfs {

// Maps an error code to the errno the kernel would use, for daemons and FUSE-like users.
// Codes from other categories (a source's system_category code) pass through.
inline int to_errno(std::error_code ec) noexcept {
  if (!ec) return 0;
  if (ec.category() != error_category()) {
    return ec.category() == std::system_category() || ec.category() == std::generic_category()
               ? ec.value()
               : EIO;
  }
  switch (static_cast<errc>(ec.value())) {
    case errc::corrupted: return EUCLEAN;  // the kernel's EFSCORRUPTED
    case errc::unsupported: return EOPNOTSUPP;
    case errc::truncated: return EIO;
    case errc::io_error: return EIO;
    case errc::not_found: return ENOENT;
    case errc::not_a_directory: return ENOTDIR;
    case errc::is_a_directory: return EISDIR;
    case errc::not_a_symlink: return EINVAL;
    case errc::symlink_loop: return ELOOP;
    case errc::limit_exceeded: return EFBIG;
    case errc::invalid_argument: return EINVAL;
    case errc::no_device: return ENODEV;
    case errc::decompress_failed: return EUCLEAN;
    case errc::protocol_error: return EPROTO;
    case errc::internal: return EIO;
  }
  return EIO;
}

// "What and where": a code, a static string naming the failed check, and up to three
// integers. Copying it is free; formatting happens only in message().
struct error {
  static constexpr std::uint64_t unknown = ~std::uint64_t{0};

  std::error_code code;
  const char* what = "";
  std::uint64_t nid = unknown;     // inode the check was about
  std::uint64_t offset = unknown;  // byte position (image, stream or file) of the bad data
  std::uint64_t value = unknown;   // the offending value, when there is one

  // "corrupted image: dirent nameoff not increasing (nid 42, offset 0x1a2c, value 7)".
  std::string message() const {
    std::string s = code.message();
    if (what && *what) {
      s += ": ";
      s += what;
    }
    char buf[96];
    std::string where;
    auto add = [&](const char* fmt, unsigned long long v) {
      std::snprintf(buf, sizeof buf, fmt, v);
      where += where.empty() ? " (" : ", ";
      where += buf;
    };
    if (nid != unknown) add("nid %llu", nid);
    if (offset != unknown) add("offset 0x%llx", offset);
    if (value != unknown) add("value %llu", value);
    if (!where.empty()) s += where + ")";
    return s;
  }
};

// Where a failed check was: any of the inode, the byte position and the offending value,
// named at the call site (`corrupted(what::x, {.nid = n, .value = v})`).
struct where {
  std::uint64_t nid = error::unknown;
  std::uint64_t offset = error::unknown;
  std::uint64_t value = error::unknown;
};

inline error make_error(std::error_code code, const char* what, where at = {}) noexcept {
  return error{code, what, at.nid, at.offset, at.value};
}
inline error make_error(errc code, const char* what, where at = {}) noexcept {
  return error{make_error_code(code), what, at.nid, at.offset, at.value};
}
inline error corrupted(const char* what, where at = {}) noexcept {
  return make_error(errc::corrupted, what, at);
}
inline error unsupported(const char* what, where at = {}) noexcept {
  return make_error(errc::unsupported, what, at);
}

// A value or an error; spelled like std::expected (missing from C++20's libstdc++ 12) so a
// later switch is mechanical. Accessing the wrong alternative is a caller bug (assert).
template <class T>
class [[nodiscard]] result {
  static_assert(!std::is_reference_v<T>, "result<T&> is not supported");

 public:
  using value_type = T;

  template <class U = T,
            std::enable_if_t<std::is_constructible_v<T, U&&> &&
                                 !std::is_same_v<std::remove_cvref_t<U>, result> &&
                                 !std::is_same_v<std::remove_cvref_t<U>, erofsfs::error>,
                             int> = 0>
  result(U&& v) noexcept(std::is_nothrow_constructible_v<T, U&&>) : ok_(true) {
    ::new (static_cast<void*>(&value_)) T(std::forward<U>(v));
  }
  result(const erofsfs::error& e) noexcept : ok_(false) {
    ::new (static_cast<void*>(&error_)) erofsfs::error(e);
  }
  result(const result& o) : ok_(o.ok_) {
    if (ok_)
      ::new (static_cast<void*>(&value_)) T(o.value_);
    else
      ::new (static_cast<void*>(&error_)) erofsfs::error(o.error_);
  }
  result(result&& o) noexcept(std::is_nothrow_move_constructible_v<T>) : ok_(o.ok_) {
    if (ok_)
      ::new (static_cast<void*>(&value_)) T(std::move(o.value_));
    else
      ::new (static_cast<void*>(&error_)) erofsfs::error(o.error_);
  }
  result& operator=(const result& o) {
    if (this != &o) {
      destroy();
      ok_ = o.ok_;
      if (ok_)
        ::new (static_cast<void*>(&value_)) T(o.value_);
      else
        ::new (static_cast<void*>(&error_)) erofsfs::error(o.error_);
    }
    return *this;
  }
  result& operator=(result&& o) noexcept(std::is_nothrow_move_constructible_v<T>) {
    if (this != &o) {
      destroy();
      ok_ = o.ok_;
      if (ok_)
        ::new (static_cast<void*>(&value_)) T(std::move(o.value_));
      else
        ::new (static_cast<void*>(&error_)) erofsfs::error(o.error_);
    }
    return *this;
  }
  ~result() { destroy(); }

  bool has_value() const noexcept { return ok_; }
  explicit operator bool() const noexcept { return ok_; }

  T& value() & noexcept {
    EROFSFS_ASSERT(ok_, "result::value() on an error");
    return value_;
  }
  const T& value() const& noexcept {
    EROFSFS_ASSERT(ok_, "result::value() on an error");
    return value_;
  }
  T&& value() && noexcept {
    EROFSFS_ASSERT(ok_, "result::value() on an error");
    return std::move(value_);
  }
  T& operator*() & noexcept { return value(); }
  const T& operator*() const& noexcept { return value(); }
  T&& operator*() && noexcept { return std::move(*this).value(); }
  T* operator->() noexcept { return &value(); }
  const T* operator->() const noexcept { return &value(); }

  const erofsfs::error& error() const noexcept {
    EROFSFS_ASSERT(!ok_, "result::error() on a value");
    return error_;
  }
  template <class U>
  T value_or(U&& fallback) const& {
    return ok_ ? value_ : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  void destroy() noexcept {
    if (ok_) value_.~T();
  }
  bool ok_;
  union {
    T value_;
    erofsfs::error error_;
  };
};

template <>
class [[nodiscard]] result<void> {
 public:
  using value_type = void;
  result() noexcept = default;
  result(const erofsfs::error& e) noexcept : ok_(false), error_(e) {}

  bool has_value() const noexcept { return ok_; }
  explicit operator bool() const noexcept { return ok_; }
  void value() const noexcept { EROFSFS_ASSERT(ok_, "result::value() on an error"); }
  const erofsfs::error& error() const noexcept {
    EROFSFS_ASSERT(!ok_, "result::error() on a value");
    return error_;
  }

 private:
  bool ok_ = true;
  erofsfs::error error_{};
};

using status = result<void>;

}  // namespace erofsfs

#define EROFSFS_CONCAT_INNER(a, b) a##b
#define EROFSFS_CONCAT(a, b) EROFSFS_CONCAT_INNER(a, b)

// Propagates the error of a status/result expression; discards its value.
#define EROFSFS_TRY(expr)                                                   \
  do {                                                                      \
    auto&& erofsfs_try_result_ = (expr);                                    \
    if (EROFSFS_UNLIKELY(!erofsfs_try_result_)) return erofsfs_try_result_.error(); \
  } while (0)

// `EROFSFS_TRY_ASSIGN(auto x, f());` declares x from f()'s value or returns its error.
// __COUNTER__ (not __LINE__) names the temporary: an invocation may span several lines.
#define EROFSFS_TRY_ASSIGN(decl, expr) \
  EROFSFS_TRY_ASSIGN_IMPL(EROFSFS_CONCAT(erofsfs_try_, __COUNTER__), decl, expr)
#define EROFSFS_TRY_ASSIGN_IMPL(tmp, decl, expr)              \
  auto tmp = (expr);                                          \
  if (EROFSFS_UNLIKELY(!tmp)) return tmp.error();             \
  decl = std::move(*tmp)
