// The JSON the erofsfs tool writes with --json: objects built field by field, written one per
// line. Field names are snake_case and stable.
//
// Strings from an image (names, symlink targets, xattr names and values) are bytes, not text.
// They are written losslessly: well-formed UTF-8 passes through; '"', '\' and control bytes use
// JSON escapes (\n, \t, ..., \u00XX); every byte that is not part of well-formed UTF-8 is
// written as \udcXX (XX = the byte, 80..FF), the "surrogateescape" convention of PEP 383. A
// well-formed UTF-8 name is therefore plain JSON text, and Python gets any name back exactly
// with json.loads(line)[key].encode("utf-8", "surrogateescape").
#pragma once

#include <concepts>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include <erofsfs/base/error.hpp>

namespace erofsfs::cli::json {

namespace detail {

// Length of the well-formed UTF-8 sequence at s[i] (Unicode Table 3-7: no overlong forms, no
// surrogates, nothing above U+10FFFF), or 0 when the byte there does not start one.
inline std::size_t utf8_sequence(std::string_view s, std::size_t i) noexcept {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b0 = byte(i);
  if (b0 < 0x80) return 1;
  std::size_t len;
  unsigned char lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (s.size() - i < len) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (std::size_t k = 2; k < len; ++k)
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  return len;
}

}  // namespace detail

// `s` as a JSON string literal, quotes included (see the rule above).
inline std::string quote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  char buf[8];
  for (std::size_t i = 0; i < s.size();) {  // bounded: i grows by >= 1 every pass
    const auto u = static_cast<unsigned char>(s[i]);
    if (u >= 0x80) {
      const std::size_t n = detail::utf8_sequence(s, i);
      if (n == 0) {
        std::snprintf(buf, sizeof buf, "\\udc%02x", u);
        out += buf;
        ++i;
      } else {
        out.append(s.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (s[i]) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (u < 0x20 || u == 0x7F) {
          std::snprintf(buf, sizeof buf, "\\u%04x", u);
          out += buf;
        } else {
          out += s[i];
        }
    }
    ++i;
  }
  out += '"';
  return out;
}

// One JSON object, built in field order.
class object {
 public:
  object& string(std::string_view key, std::string_view value) {
    return raw(key, quote(value));
  }
  template <std::integral T>
    requires(!std::same_as<T, bool>)
  object& number(std::string_view key, T value) {
    return raw(key, std::to_string(value));
  }
  object& boolean(std::string_view key, bool value) { return raw(key, value ? "true" : "false"); }
  object& null(std::string_view key) { return raw(key, "null"); }
  // A value that is already JSON (a nested object or array).
  object& raw(std::string_view key, std::string_view json) {
    text_ += text_.size() == 1 ? "" : ",";
    text_ += quote(key);
    text_ += ':';
    text_ += json;
    return *this;
  }
  std::string str() const { return text_ + "}"; }

 private:
  std::string text_ = "{";
};

// A JSON array of already-encoded values.
class array {
 public:
  array& add(std::string_view json) {
    text_ += text_.size() == 1 ? "" : ",";
    text_ += json;
    return *this;
  }
  std::string str() const { return text_ + "]"; }

 private:
  std::string text_ = "[";
};

// An erofsfs::error's parts as fields of `o`: "error" (the whole message), "code" (the errc or
// system error text), "check" (the failed check), and "nid", "offset", "value" (null when the
// error does not have them).
inline object& error_fields(object& o, const error& e) {
  o.string("error", e.message()).string("code", e.code.message()).string("check", e.what ? e.what : "");
  auto opt = [&](const char* key, std::uint64_t v) {
    if (v == error::unknown)
      o.null(key);
    else
      o.number(key, v);
  };
  opt("nid", e.nid);
  opt("offset", e.offset);
  opt("value", e.value);
  return o;
}

// Writes `o` and a newline to standard output: one object per line.
inline void print_line(const object& o) {
  const std::string s = o.str();
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fputc('\n', stdout);
}

}  // namespace erofsfs::cli::json
