// erofsfs/io/http_source.hpp alone (built only where libcurl is found): its helpers, and an
// http_source reading the image from a tiny range-serving HTTP server on 127.0.0.1 run here.
#include <erofsfs/io/http_source.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "check.hpp"

namespace {

bool send_all(int fd, const void* p, std::size_t n) {
  const char* c = static_cast<const char*>(p);
  while (n > 0) {  // bounded: n shrinks on every successful send
    const ssize_t w = ::send(fd, c, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    c += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

// Answers one request on `fd`: 206 for "Range: bytes=A-B", 200 with everything otherwise.
void serve_one(int fd, std::span<const std::byte> body) {
  std::string req;
  char buf[4096];
  while (req.find("\r\n\r\n") == std::string::npos && req.size() < 65536) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return;
    req.append(buf, static_cast<std::size_t>(n));
  }
  std::string lower = req;
  for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  std::uint64_t first = 0, last = body.size() - 1;
  bool ranged = false;
  const std::size_t at = lower.find("\r\nrange: bytes=");
  if (at != std::string::npos) {
    unsigned long long a = 0, b = 0;
    const int got = std::sscanf(lower.c_str() + at + 15, "%llu-%llu", &a, &b);
    if (got >= 1 && a < body.size()) {
      ranged = true;
      first = a;
      if (got == 2 && b < last) last = b;
    }
  }
  char head[256];
  const int hn =
      ranged ? std::snprintf(head, sizeof head,
                             "HTTP/1.1 206 Partial Content\r\nContent-Length: %llu\r\n"
                             "Content-Range: bytes %llu-%llu/%zu\r\nConnection: close\r\n\r\n",
                             static_cast<unsigned long long>(last - first + 1),
                             static_cast<unsigned long long>(first),
                             static_cast<unsigned long long>(last), body.size())
             : std::snprintf(head, sizeof head,
                             "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                             body.size());
  if (send_all(fd, head, static_cast<std::size_t>(hn)))
    send_all(fd, body.data() + first, static_cast<std::size_t>(last - first + 1));
}

int check(const header_check_input& in, int port, std::atomic<int>& served) {
  namespace d = erofsfs::detail;
  HEADER_EXPECT(d::http_iequals("Content-Range", "content-range") && !d::http_iequals("a", "ab"));
  HEADER_EXPECT(d::http_trim("  x \t") == "x");
  HEADER_EXPECT(d::http_parse_u64("123") == 123u && !d::http_parse_u64("12a"));
  auto cr = d::http_parse_content_range("bytes 0-99/1000");
  HEADER_EXPECT(cr && cr->first == 0 && cr->last == 99 && cr->total == 1000);
  HEADER_EXPECT(!d::http_parse_content_range("bytes */1000"));
  HEADER_EXPECT(d::http_redacted("http://u:pw@host/x") == "http://***@host/x");
  d::http_block_cache cache(8192);
  cache.insert(3, in.bytes.first(4096));
  std::byte one[4];
  HEADER_EXPECT(cache.contains(3) && cache.copy(3, 1024, one) && one[0] == std::byte{0xE2});

  HEADER_EXPECT(!erofsfs::http_source::open("ftp://example.invalid/x"));
  erofsfs::http_options bad;
  bad.block_size = 1000;
  HEADER_EXPECT(!erofsfs::http_source::open("http://127.0.0.1/x", bad));

  erofsfs::http_options opt;
  opt.block_size = 4096;
  opt.max_retries = 0;
  opt.request_timeout_ms = 10'000;
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/image.erofs";
  std::string failure;
  auto src = erofsfs::http_source::open(url, opt, &failure);
  if (!src) std::fprintf(stderr, "open: %s: %s\n", src.error().message().c_str(), failure.c_str());
  HEADER_EXPECT(src && src->size() == in.bytes.size() && src->url() == url);
  std::vector<std::byte> got(in.bytes.size());
  HEADER_EXPECT(!src->read_at(0, got) && std::memcmp(got.data(), in.bytes.data(), got.size()) == 0);
  HEADER_EXPECT(src->read_at(in.bytes.size() - 1, std::span(got).first(2)));  // past the end
  const erofsfs::http_counters c = src->counters();
  HEADER_EXPECT(c.requests >= 1 && c.bytes_fetched >= in.bytes.size() && served.load() >= 1);
  HEADER_EXPECT(src->last_failure().empty());
  return 0;
}

}  // namespace

int header_check(const header_check_input& in) {
  const int ls = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  HEADER_EXPECT(ls >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  HEADER_EXPECT(::bind(ls, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                ::listen(ls, 16) == 0 &&
                ::getsockname(ls, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  std::atomic<bool> stop{false};
  std::atomic<int> served{0};
  std::thread server([&] {
    while (!stop.load()) {  // bounded: ends when the check is done
      pollfd p{ls, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int c = ::accept4(ls, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      serve_one(c, in.bytes);
      ++served;
      ::close(c);
    }
  });
  const int rc = check(in, ntohs(addr.sin_port), served);
  stop = true;
  server.join();
  ::close(ls);
  return rc;
}
