// Runs a program to completion with its stdout and stderr captured in memory files (no pipe
// can fill up and stall it): what the tests that drive the erofsfs tool, veritysetup or curl
// share.
#pragma once

#include <spawn.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

extern char** environ;

namespace erofsfs::test {

struct run_result {
  bool spawned = false;  // false: the program could not be started (err says why)
  int rc = -1;           // exit status, or 128 + the signal that ended it
  std::string out, err;
};

namespace detail {
inline std::string memfd_text(int fd) {
  struct stat st;
  std::string s;
  if (::fstat(fd, &st) != 0 || st.st_size <= 0) return s;
  s.resize(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  while (got < s.size()) {  // bounded: each pass reads > 0 bytes or stops
    const ssize_t n = ::pread(fd, s.data() + got, s.size() - got, static_cast<off_t>(got));
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  s.resize(got);
  return s;
}
}  // namespace detail

// Runs argv (argv[0] looked up on PATH when it has no '/') and waits for it. `env`, when
// given, is the whole environment of the child; otherwise it inherits this process's.
inline run_result run_program(const std::vector<std::string>& args,
                              const std::vector<std::string>* env = nullptr) {
  run_result r;
  if (args.empty()) return r;
  const int out = ::memfd_create("erofsfs-test-stdout", MFD_CLOEXEC);
  const int err = ::memfd_create("erofsfs-test-stderr", MFD_CLOEXEC);
  if (out < 0 || err < 0) {
    r.err = std::strerror(errno);
    if (out >= 0) ::close(out);
    if (err >= 0) ::close(err);
    return r;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out, 1);
  posix_spawn_file_actions_adddup2(&fa, err, 2);
  std::vector<std::string> all = args;
  std::vector<char*> argv;
  for (std::string& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_text;
  std::vector<char*> envp;
  if (env) {
    env_text = *env;
    for (std::string& e : env_text) envp.push_back(e.data());
    envp.push_back(nullptr);
  }
  pid_t pid;
  const int e =
      posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), env ? envp.data() : environ);
  posix_spawn_file_actions_destroy(&fa);
  if (e == 0) {
    int status = 0;
    pid_t w;
    do w = ::waitpid(pid, &status, 0);
    while (w < 0 && errno == EINTR);  // bounded: repeats only on signals
    r.spawned = w == pid;
    if (r.spawned) r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = detail::memfd_text(out);
    r.err = detail::memfd_text(err);
  } else {
    r.err = std::strerror(e);
  }
  ::close(out);
  ::close(err);
  return r;
}

}  // namespace erofsfs::test
