// SHA-512 (FIPS 180-4) (L0): the chunk checksums of seekable zstd layers
// (format/seekable_zstd.hpp) and the digest of dm-verity trees made with `--hash sha512`, as
// containerd's seekable layers are. Table-free and portable like base/sha256.hpp: simple over
// fast (whole 128-byte blocks skip the byte buffer).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace erofsfs {

class sha512 {
 public:
  sha512() { reset(); }
  void reset() {
    h_ = {0x6a09e667f3bcc908, 0xbb67ae8584caa73b, 0x3c6ef372fe94f82b, 0xa54ff53a5f1d36f1,
          0x510e527fade682d1, 0x9b05688c2b3e6c1f, 0x1f83d9abfb41bd6b, 0x5be0cd19137e2179};
    len_ = 0;
    fill_ = 0;
  }
  static constexpr std::size_t digest_size = 64;

  void update(std::span<const std::byte> data) {
    len_ += data.size();
    std::size_t i = 0;
    while (i < data.size()) {  // bounded: i grows by at least one byte per pass
      if (fill_ == 0 && data.size() - i >= 128) {
        block(reinterpret_cast<const std::uint8_t*>(data.data() + i));
        i += 128;
        continue;
      }
      buf_[fill_++] = static_cast<std::uint8_t>(data[i++]);
      if (fill_ == 128) {
        block(buf_.data());
        fill_ = 0;
      }
    }
  }
  // The 64-byte digest of everything updated so far; resets the object for a new message.
  std::array<std::uint8_t, digest_size> digest() {
    // The message length is a 128-bit count of bits; messages here stay below 2^61 bytes, so
    // its high 64 bits are len_ >> 61.
    const std::uint64_t bits_hi = len_ >> 61, bits_lo = len_ << 3;
    const std::uint8_t pad = 0x80;
    update(std::as_bytes(std::span(&pad, 1)));
    const std::uint8_t zero = 0;
    while (fill_ != 112) update(std::as_bytes(std::span(&zero, 1)));  // bounded: < 128 passes
    std::uint8_t lenb[16];
    for (int i = 0; i < 8; ++i) {
      lenb[i] = static_cast<std::uint8_t>(bits_hi >> (56 - 8 * i));
      lenb[8 + i] = static_cast<std::uint8_t>(bits_lo >> (56 - 8 * i));
    }
    update(std::as_bytes(std::span(lenb, 16)));
    std::array<std::uint8_t, digest_size> out;
    for (std::size_t w = 0; w < 8; ++w)
      for (std::size_t k = 0; k < 8; ++k)
        out[8 * w + k] = static_cast<std::uint8_t>(h_[w] >> (56 - 8 * k));
    reset();
    return out;
  }
  std::string hex() {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (std::uint8_t b : digest()) {
      out += digits[b >> 4];
      out += digits[b & 15];
    }
    return out;
  }
  static std::string of(std::span<const std::byte> data) {
    sha512 h;
    h.update(data);
    return h.hex();
  }

 private:
  static std::uint64_t rotr(std::uint64_t x, int n) { return (x >> n) | (x << (64 - n)); }
  void block(const std::uint8_t* p) {
    static constexpr std::uint64_t k[80] = {
        0x428a2f98d728ae22, 0x7137449123ef65cd, 0xb5c0fbcfec4d3b2f, 0xe9b5dba58189dbbc,
        0x3956c25bf348b538, 0x59f111f1b605d019, 0x923f82a4af194f9b, 0xab1c5ed5da6d8118,
        0xd807aa98a3030242, 0x12835b0145706fbe, 0x243185be4ee4b28c, 0x550c7dc3d5ffb4e2,
        0x72be5d74f27b896f, 0x80deb1fe3b1696b1, 0x9bdc06a725c71235, 0xc19bf174cf692694,
        0xe49b69c19ef14ad2, 0xefbe4786384f25e3, 0x0fc19dc68b8cd5b5, 0x240ca1cc77ac9c65,
        0x2de92c6f592b0275, 0x4a7484aa6ea6e483, 0x5cb0a9dcbd41fbd4, 0x76f988da831153b5,
        0x983e5152ee66dfab, 0xa831c66d2db43210, 0xb00327c898fb213f, 0xbf597fc7beef0ee4,
        0xc6e00bf33da88fc2, 0xd5a79147930aa725, 0x06ca6351e003826f, 0x142929670a0e6e70,
        0x27b70a8546d22ffc, 0x2e1b21385c26c926, 0x4d2c6dfc5ac42aed, 0x53380d139d95b3df,
        0x650a73548baf63de, 0x766a0abb3c77b2a8, 0x81c2c92e47edaee6, 0x92722c851482353b,
        0xa2bfe8a14cf10364, 0xa81a664bbc423001, 0xc24b8b70d0f89791, 0xc76c51a30654be30,
        0xd192e819d6ef5218, 0xd69906245565a910, 0xf40e35855771202a, 0x106aa07032bbd1b8,
        0x19a4c116b8d2d0c8, 0x1e376c085141ab53, 0x2748774cdf8eeb99, 0x34b0bcb5e19b48a8,
        0x391c0cb3c5c95a63, 0x4ed8aa4ae3418acb, 0x5b9cca4f7763e373, 0x682e6ff3d6b2b8a3,
        0x748f82ee5defb2fc, 0x78a5636f43172f60, 0x84c87814a1f0ab72, 0x8cc702081a6439ec,
        0x90befffa23631e28, 0xa4506cebde82bde9, 0xbef9a3f7b2c67915, 0xc67178f2e372532b,
        0xca273eceea26619c, 0xd186b8c721c0c207, 0xeada7dd6cde0eb1e, 0xf57d4f7fee6ed178,
        0x06f067aa72176fba, 0x0a637dc5a2c898a6, 0x113f9804bef90dae, 0x1b710b35131c471b,
        0x28db77f523047d84, 0x32caab7b40c72493, 0x3c9ebe0a15c9bebc, 0x431d67c49c100d4c,
        0x4cc5d4becb3e42b6, 0x597f299cfc657e2a, 0x5fcb6fab3ad6faec, 0x6c44198c4a475817};
    std::uint64_t w[80];
    for (int i = 0; i < 16; ++i) {
      std::uint64_t v = 0;
      for (int b = 0; b < 8; ++b) v = v << 8 | p[8 * i + b];
      w[i] = v;
    }
    for (int i = 16; i < 80; ++i) {
      const std::uint64_t s0 = rotr(w[i - 15], 1) ^ rotr(w[i - 15], 8) ^ (w[i - 15] >> 7);
      const std::uint64_t s1 = rotr(w[i - 2], 19) ^ rotr(w[i - 2], 61) ^ (w[i - 2] >> 6);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    std::uint64_t a = h_[0], b = h_[1], c = h_[2], d = h_[3], e = h_[4], f = h_[5], g = h_[6],
                  h = h_[7];
    for (int i = 0; i < 80; ++i) {
      const std::uint64_t t1 =
          h + (rotr(e, 14) ^ rotr(e, 18) ^ rotr(e, 41)) + ((e & f) ^ (~e & g)) + k[i] + w[i];
      const std::uint64_t t2 =
          (rotr(a, 28) ^ rotr(a, 34) ^ rotr(a, 39)) + ((a & b) ^ (a & c) ^ (b & c));
      h = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
    h_[0] += a; h_[1] += b; h_[2] += c; h_[3] += d;
    h_[4] += e; h_[5] += f; h_[6] += g; h_[7] += h;
  }
  std::array<std::uint64_t, 8> h_{};
  std::array<std::uint8_t, 128> buf_{};
  std::size_t fill_ = 0;
  std::uint64_t len_ = 0;
};

}  // namespace erofsfs
