// Real HTTP servers for the HTTP source tests, started as children on 127.0.0.1 and stopped by
// their destructors: Debian's nginx serving a directory (ranges, redirects), and the
// fault-injecting proxy tests/support/http_fault_proxy.py in front of it. Test-only.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace erofsfs::test {

// A child process, SIGTERMed and reaped when this goes away.
class child_process {
 public:
  child_process() = default;
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  ~child_process() { stop(); }

  // Starts argv[0] (looked up in PATH) with stdout on `stdout_fd` (or inherited when -1).
  bool start(const std::vector<std::string>& argv, int stdout_fd = -1) {
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ < 0) return false;
    if (pid_ == 0) {
      if (stdout_fd >= 0) ::dup2(stdout_fd, 1);
      ::execvp(args[0], args.data());
      ::_exit(127);
    }
    return true;
  }
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int st = 0;
    while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }
  bool running() const {
    if (pid_ <= 0) return false;
    int st = 0;
    return ::waitpid(pid_, &st, WNOHANG) == 0;
  }

 private:
  pid_t pid_ = -1;
};

// A port nobody listens on right now (the kernel's pick for an ephemeral bind).
inline int free_port() {
  const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = -1;
  if (s >= 0 && ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  if (s >= 0) ::close(s);
  return port;
}

inline bool port_accepts(int port) {
  const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool ok = ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(s);
  return ok;
}

// Polls until `port` accepts connections or `child` died; at most about five seconds.
inline bool wait_for_port(int port, const child_process& child) {
  for (int i = 0; i < 500; ++i) {  // bounded: 500 x 10 ms
    if (port_accepts(port)) return true;
    if (!child.running()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

inline std::string nginx_binary() {
  for (const char* p : {"/usr/sbin/nginx", "/usr/bin/nginx"})
    if (::access(p, X_OK) == 0) return p;
  return {};
}

// nginx -p PREFIX -c nginx.conf -g 'daemon off;' serving `root` on 127.0.0.1:port(), with
// /redirect/X answering 302 to /X and /loop answering 302 to itself.
class nginx_server {
 public:
  nginx_server() = default;
  nginx_server(const nginx_server&) = delete;
  nginx_server& operator=(const nginx_server&) = delete;
  ~nginx_server() {
    child_.stop();
    std::error_code ec;
    if (!prefix_.empty()) std::filesystem::remove_all(prefix_, ec);
  }

  // Empty on success, else why nginx could not be started.
  std::string start(const std::string& root) {
    const std::string bin = nginx_binary();
    if (bin.empty()) return "nginx not installed (Debian package nginx)";
    std::string t = (std::filesystem::temp_directory_path() / "erofsfs-nginx-XXXXXX").string();
    if (!::mkdtemp(t.data())) return "mkdtemp failed";
    prefix_ = t;
    std::filesystem::create_directories(prefix_ + "/logs");
    for (int attempt = 0; attempt < 5; ++attempt) {  // another process may take the port first
      port_ = free_port();
      {
        std::ofstream conf(prefix_ + "/nginx.conf");
        conf << "worker_processes 1;\n"
             << "error_log " << prefix_ << "/logs/error.log warn;\n"
             << "pid " << prefix_ << "/nginx.pid;\n"
             << (::geteuid() == 0 ? "user root root;\n" : "")
             << "events { worker_connections 256; }\n"
             << "http {\n"
             << "  access_log off;\n"
             << "  client_body_temp_path " << prefix_ << "/body;\n"
             << "  proxy_temp_path " << prefix_ << "/proxy;\n"
             << "  fastcgi_temp_path " << prefix_ << "/fastcgi;\n"
             << "  uwsgi_temp_path " << prefix_ << "/uwsgi;\n"
             << "  scgi_temp_path " << prefix_ << "/scgi;\n"
             << "  default_type application/octet-stream;\n"
             << "  sendfile on;\n"
             << "  keepalive_requests 100000;\n"
             << "  server {\n"
             << "    listen 127.0.0.1:" << port_ << ";\n"
             << "    root " << root << ";\n"
             << "    location /redirect/ { rewrite ^/redirect/(.*)$ /$1 redirect; }\n"
             << "    location = /loop { return 302 /loop; }\n"
             << "  }\n"
             << "}\n";
      }
      child_.start({bin, "-p", prefix_, "-c", prefix_ + "/nginx.conf", "-g", "daemon off;"});
      if (wait_for_port(port_, child_)) return {};
      child_.stop();
    }
    std::ifstream log(prefix_ + "/logs/error.log");
    std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    return "nginx did not start: " + text;
  }
  int port() const { return port_; }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

 private:
  child_process child_;
  std::string prefix_;
  int port_ = -1;
};

inline std::string python3_binary() {
  for (const char* p : {"/usr/bin/python3", "/usr/local/bin/python3"})
    if (::access(p, X_OK) == 0) return p;
  return {};
}

// tests/support/http_fault_proxy.py in front of `upstream_port`; `args` are its options
// ("--fault", "drop", "--skip", "1", ...).
class fault_proxy {
 public:
  fault_proxy() = default;
  fault_proxy(const fault_proxy&) = delete;
  fault_proxy& operator=(const fault_proxy&) = delete;

  std::string start(int upstream_port, const std::vector<std::string>& args) {
    const std::string py = python3_binary();
    if (py.empty()) return "python3 not installed";
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return "pipe failed";
    std::vector<std::string> argv{py, std::string(EROFSFS_TEST_DATA) + "/../support/http_fault_proxy.py",
                                  "--upstream", "http://127.0.0.1:" + std::to_string(upstream_port)};
    argv.insert(argv.end(), args.begin(), args.end());
    const bool started = child_.start(argv, fds[1]);
    ::close(fds[1]);
    std::string line;
    char c;
    while (started && line.size() < 16 && ::read(fds[0], &c, 1) == 1 && c != '\n') line += c;
    ::close(fds[0]);
    port_ = std::atoi(line.c_str());
    if (port_ <= 0 || !wait_for_port(port_, child_)) return "fault proxy did not start";
    return {};
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

 private:
  child_process child_;
  int port_ = -1;
};

}  // namespace erofsfs::test
