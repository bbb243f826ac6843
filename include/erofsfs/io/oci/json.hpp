// A bounded JSON reader (L2, OCI support): enough of RFC 8259 for registry answers (manifests,
// indexes, token responses) and docker's config.json. The input is untrusted, so:
// - parsing is iterative (an explicit stack; no recursion set by the input) and linear in the
//   input size, with caps on the input size, the nesting depth and the number of values;
// - strings are decoded (escapes, \uXXXX with surrogate pairs, to UTF-8); raw control bytes,
//   lone surrogates, bad escapes, trailing bytes and duplicate object keys are errors (a
//   duplicate key could make two readers of one manifest disagree on what it says);
// - numbers are checked against the JSON grammar and kept as text; u64() reads the
//   non-negative integers that descriptors use (sizes), anything else is not a u64.
// Values live in one vector owned by the document; json_ref is a cheap view into it whose
// accessors return "missing" instead of failing, so a schema check reads top-down.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../../base/error.hpp"
#include "../../base/error_text.hpp"

namespace erofsfs::oci {

enum class json_kind : std::uint8_t { missing, null, boolean, number, string, array, object };

struct json_limits {
  std::size_t max_bytes = std::size_t{4} << 20;  // containerd's manifest limit
  std::size_t max_depth = 64;
  std::size_t max_values = std::size_t{1} << 18;
};

class json_document;

// A value of a document, or "missing" (a key that is absent, an index past the end).
class json_ref {
 public:
  json_ref() = default;
  json_kind kind() const noexcept;
  bool is(json_kind k) const noexcept { return kind() == k; }
  // Member `key` of an object; missing for anything else.
  json_ref operator[](std::string_view key) const noexcept;
  // Elements of an array or values of an object, in document order (empty otherwise).
  std::vector<json_ref> items() const;
  // Member name of this value when it is an object member, else empty.
  std::string_view key() const noexcept;
  // The decoded text of a string, nullopt for other kinds.
  std::optional<std::string_view> string() const noexcept;
  // A number that is a non-negative integer fitting u64, else nullopt.
  std::optional<std::uint64_t> u64() const noexcept;
  std::optional<bool> boolean() const noexcept;

 private:
  friend class json_document;
  json_ref(const json_document* d, std::uint32_t i) noexcept : doc_(d), i_(i) {}
  const json_document* doc_ = nullptr;
  std::uint32_t i_ = 0;
};

class json_document {
 public:
  static result<json_document> parse(std::string_view text, const json_limits& lim = {});
  json_ref root() const noexcept { return values_.empty() ? json_ref() : json_ref(this, 0); }

 private:
  friend class json_ref;
  struct value {
    json_kind kind = json_kind::null;
    bool flag = false;
    std::string text;  // decoded string, or the number as written
    std::string key;   // member name inside an object
    std::vector<std::uint32_t> children;
  };
  std::vector<value> values_;
};

namespace detail {

inline error json_error(const char* what, std::size_t at) noexcept {
  return make_error(errc::protocol_error, what, {.offset = at});
}

inline void json_append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Reads the string starting at the '"' at `pos` into `out`; moves `pos` past its closing quote.
inline status json_string(std::string_view s, std::size_t& pos, std::string& out) {
  const std::size_t start = pos++;
  auto hex4 = [&](std::size_t at) -> std::optional<std::uint32_t> {
    if (at + 4 > s.size()) return std::nullopt;
    std::uint32_t v = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      const char c = s[at + k];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= static_cast<std::uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f') v |= static_cast<std::uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= static_cast<std::uint32_t>(c - 'A' + 10);
      else return std::nullopt;
    }
    return v;
  };
  while (pos < s.size()) {  // bounded: pos grows every turn
    const char c = s[pos];
    if (c == '"') {
      ++pos;
      return {};
    }
    if (static_cast<unsigned char>(c) < 0x20) return json_error(what::json_is_malformed, pos);
    if (c != '\\') {
      out += c;
      ++pos;
      continue;
    }
    if (pos + 1 >= s.size()) break;
    const char e = s[pos + 1];
    pos += 2;
    switch (e) {
      case '"': out += '"'; break;
      case '\\': out += '\\'; break;
      case '/': out += '/'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'u': {
        auto hi = hex4(pos);
        if (!hi) return json_error(what::json_is_malformed, pos);
        pos += 4;
        std::uint32_t cp = *hi;
        if (cp >= 0xDC00 && cp <= 0xDFFF) return json_error(what::json_is_malformed, pos);
        if (cp >= 0xD800 && cp <= 0xDBFF) {  // must be followed by its low half
          if (pos + 2 > s.size() || s[pos] != '\\' || s[pos + 1] != 'u')
            return json_error(what::json_is_malformed, pos);
          auto lo = hex4(pos + 2);
          if (!lo || *lo < 0xDC00 || *lo > 0xDFFF) return json_error(what::json_is_malformed, pos);
          pos += 6;
          cp = 0x10000 + ((cp - 0xD800) << 10) + (*lo - 0xDC00);
        }
        json_append_utf8(out, cp);
        break;
      }
      default: return json_error(what::json_is_malformed, pos - 1);
    }
  }
  return json_error(what::json_is_malformed, start);  // unterminated
}

// Checks the number at `pos` against the grammar; moves `pos` past it.
inline status json_number(std::string_view s, std::size_t& pos) {
  const std::size_t start = pos;
  auto digits = [&] {
    const std::size_t from = pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
    return pos - from;
  };
  if (pos < s.size() && s[pos] == '-') ++pos;
  if (pos < s.size() && s[pos] == '0') {
    ++pos;
  } else if (digits() == 0) {
    return json_error(what::json_is_malformed, start);
  }
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    if (digits() == 0) return json_error(what::json_is_malformed, start);
  }
  if (pos < s.size() && (s[pos] == 'e' || s[pos] == 'E')) {
    ++pos;
    if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) ++pos;
    if (digits() == 0) return json_error(what::json_is_malformed, start);
  }
  return {};
}

}  // namespace detail

inline result<json_document> json_document::parse(std::string_view s, const json_limits& lim) {
  using detail::json_error;
  if (s.size() > lim.max_bytes)
    return make_error(errc::limit_exceeded, what::json_document_too_large, {.value = s.size()});
  json_document doc;
  std::vector<std::uint32_t> stack;  // open containers
  std::size_t pos = 0;
  auto ws = [&] {
    while (pos < s.size() && (s[pos] == ' ' || s[pos] == '\t' || s[pos] == '\n' || s[pos] == '\r'))
      ++pos;
  };
  // Adds a value under the innermost container (with `key` when that is an object).
  auto add = [&](json_kind k, std::string key) -> result<std::uint32_t> {
    if (doc.values_.size() >= lim.max_values)
      return make_error(errc::limit_exceeded, what::json_too_many_values, {.offset = pos});
    const auto id = static_cast<std::uint32_t>(doc.values_.size());
    doc.values_.push_back(value{k, false, {}, std::move(key), {}});
    if (!stack.empty()) doc.values_[stack.back()].children.push_back(id);
    return id;
  };
  // Duplicate keys of a closing object: sorted copies, adjacent equal names (n log n).
  auto unique_keys = [&](std::uint32_t obj) {
    std::vector<std::string_view> keys;
    for (const std::uint32_t c : doc.values_[obj].children) keys.push_back(doc.values_[c].key);
    std::sort(keys.begin(), keys.end());
    return std::adjacent_find(keys.begin(), keys.end()) == keys.end();
  };
  bool want_value = true;  // else: after a value, wanting ',' or a closer
  for (;;) {  // bounded: every turn consumes input or closes a container
    ws();
    if (want_value) {
      std::string key;
      if (!stack.empty() && doc.values_[stack.back()].kind == json_kind::object) {
        if (pos >= s.size() || s[pos] != '"') return json_error(what::json_is_malformed, pos);
        EROFSFS_TRY(detail::json_string(s, pos, key));
        ws();
        if (pos >= s.size() || s[pos] != ':') return json_error(what::json_is_malformed, pos);
        ++pos;
        ws();
      }
      if (pos >= s.size()) return json_error(what::json_is_malformed, pos);
      const char c = s[pos];
      if (c == '{' || c == '[') {
        if (stack.size() >= lim.max_depth)
          return make_error(errc::limit_exceeded, what::json_nesting_too_deep, {.offset = pos});
        EROFSFS_TRY_ASSIGN(std::uint32_t id,
                           add(c == '{' ? json_kind::object : json_kind::array, std::move(key)));
        stack.push_back(id);
        ++pos;
        ws();
        if (pos < s.size() && s[pos] == (c == '{' ? '}' : ']')) {  // empty container
          ++pos;
          stack.pop_back();
          want_value = false;
        }
        continue;
      }
      if (c == '"') {
        EROFSFS_TRY_ASSIGN(std::uint32_t id, add(json_kind::string, std::move(key)));
        std::string text;
        EROFSFS_TRY(detail::json_string(s, pos, text));
        doc.values_[id].text = std::move(text);
      } else if (c == '-' || (c >= '0' && c <= '9')) {
        const std::size_t from = pos;
        EROFSFS_TRY(detail::json_number(s, pos));
        EROFSFS_TRY_ASSIGN(std::uint32_t id, add(json_kind::number, std::move(key)));
        doc.values_[id].text = std::string(s.substr(from, pos - from));
      } else if (s.substr(pos, 4) == "true" || s.substr(pos, 5) == "false") {
        const bool t = s[pos] == 't';
        EROFSFS_TRY_ASSIGN(std::uint32_t id, add(json_kind::boolean, std::move(key)));
        doc.values_[id].flag = t;
        pos += t ? 4 : 5;
      } else if (s.substr(pos, 4) == "null") {
        EROFSFS_TRY(add(json_kind::null, std::move(key)));
        pos += 4;
      } else {
        return json_error(what::json_is_malformed, pos);
      }
      want_value = false;
      continue;
    }
    if (stack.empty()) break;
    if (pos >= s.size()) return json_error(what::json_is_malformed, pos);
    const bool object = doc.values_[stack.back()].kind == json_kind::object;
    if (s[pos] == ',') {
      ++pos;
      want_value = true;
    } else if (s[pos] == (object ? '}' : ']')) {
      if (object && !unique_keys(stack.back()))
        return json_error(what::json_object_has_a_duplicate_key, pos);
      ++pos;
      stack.pop_back();
    } else {
      return json_error(what::json_is_malformed, pos);
    }
  }
  if (pos != s.size()) return json_error(what::json_is_malformed, pos);
  return doc;
}

inline json_kind json_ref::kind() const noexcept {
  return doc_ ? doc_->values_[i_].kind : json_kind::missing;
}

inline json_ref json_ref::operator[](std::string_view key) const noexcept {
  if (kind() != json_kind::object) return {};
  for (const std::uint32_t c : doc_->values_[i_].children)  // keys are unique
    if (doc_->values_[c].key == key) return json_ref(doc_, c);
  return {};
}

inline std::vector<json_ref> json_ref::items() const {
  std::vector<json_ref> out;
  if (kind() != json_kind::object && kind() != json_kind::array) return out;
  for (const std::uint32_t c : doc_->values_[i_].children) out.push_back(json_ref(doc_, c));
  return out;
}

inline std::string_view json_ref::key() const noexcept {
  return doc_ ? std::string_view(doc_->values_[i_].key) : std::string_view();
}

inline std::optional<std::string_view> json_ref::string() const noexcept {
  if (kind() != json_kind::string) return std::nullopt;
  return std::string_view(doc_->values_[i_].text);
}

inline std::optional<std::uint64_t> json_ref::u64() const noexcept {
  if (kind() != json_kind::number) return std::nullopt;
  const std::string& t = doc_->values_[i_].text;
  std::uint64_t v = 0;
  for (const char c : t) {
    if (c < '0' || c > '9') return std::nullopt;  // sign, fraction, exponent
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (~std::uint64_t{0} - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

inline std::optional<bool> json_ref::boolean() const noexcept {
  if (kind() != json_kind::boolean) return std::nullopt;
  return doc_->values_[i_].flag;
}

}  // namespace erofsfs::oci
