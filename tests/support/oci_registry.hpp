// A real OCI registry for the tests: Debian's docker-registry (CNCF distribution 2.8) started
// on 127.0.0.1:<free port> with its storage in a temporary directory, stopped and removed by
// the destructor. Three setups: anonymous, htpasswd (htpasswd -Bbn) and token auth (the
// registry trusts tests/support/oci_token_service.py through a self-signed certificate made
// with openssl). Images are written as OCI layouts and pushed with skopeo; raw manifests and
// blobs go through the registry API with curl(1). Test-only.
#pragma once

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "http_servers.hpp"
#include "sha256.hpp"

namespace erofsfs::test {

inline std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline void write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
}

// Runs argv (absolute path) to completion with stdout and stderr in `log`; the exit code, or
// -1 when it could not run.
inline int run_to_end(const std::vector<std::string>& argv, const std::string& log) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

inline std::string sha256_file(const std::string& path) {
  const std::string b = read_text(path);
  return sha256::of(std::as_bytes(std::span(b.data(), b.size())));
}

// One layer of a layout image: a file and its media type.
struct layout_layer {
  std::string file;
  std::string media_type;
  std::vector<std::pair<std::string, std::string>> annotations;  // written as given (no escaping)
};

struct layout_image {
  std::string manifest_digest;  // "sha256:..."
  std::string manifest;         // its bytes
  std::vector<std::string> layer_digests;
};

// Writes an OCI image layout at `dir` (oci-layout, index.json, blobs/sha256/...) holding one
// image tagged `tag` with `layers` and a minimal linux/amd64 config.
inline layout_image write_layout(const std::string& dir, const std::string& tag,
                                 const std::vector<layout_layer>& layers) {
  namespace fs = std::filesystem;
  fs::create_directories(dir + "/blobs/sha256");
  auto blob = [&](const std::string& bytes) {
    const std::string hex = sha256::of(std::as_bytes(std::span(bytes.data(), bytes.size())));
    write_text(dir + "/blobs/sha256/" + hex, bytes);
    return "sha256:" + hex;
  };
  layout_image out;
  std::string diff_ids, descs;
  for (const layout_layer& l : layers) {
    const std::string hex = sha256_file(l.file);
    fs::copy_file(l.file, dir + "/blobs/sha256/" + hex, fs::copy_options::overwrite_existing);
    out.layer_digests.push_back("sha256:" + hex);
    diff_ids += std::string(diff_ids.empty() ? "" : ",") + "\"sha256:" + hex + "\"";
    descs += std::string(descs.empty() ? "" : ",") + "{\"mediaType\":\"" + l.media_type +
             "\",\"digest\":\"sha256:" + hex + "\",\"size\":" + std::to_string(fs::file_size(l.file));
    if (!l.annotations.empty()) {
      descs += ",\"annotations\":{";
      for (std::size_t a = 0; a < l.annotations.size(); ++a)
        descs += std::string(a ? "," : "") + "\"" + l.annotations[a].first + "\":\"" +
                 l.annotations[a].second + "\"";
      descs += "}";
    }
    descs += "}";
  }
  const std::string config = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":"
                             "\"layers\",\"diff_ids\":[" + diff_ids + "]}}";
  const std::string config_digest = blob(config);
  out.manifest = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                 "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" +
                 config_digest + "\",\"size\":" + std::to_string(config.size()) + "},\"layers\":[" + descs + "]}";
  out.manifest_digest = blob(out.manifest);
  write_text(dir + "/oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}");
  write_text(dir + "/index.json",
             "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/vnd.oci.image."
             "manifest.v1+json\",\"digest\":\"" + out.manifest_digest + "\",\"size\":" +
                 std::to_string(out.manifest.size()) +
                 ",\"annotations\":{\"org.opencontainers.image.ref.name\":\"" + tag + "\"}}]}");
  return out;
}

class oci_registry {
 public:
  enum class auth { none, htpasswd, token };
  static constexpr const char* user = "tester";
  static constexpr const char* password = "s3cret-pass";

  oci_registry() = default;
  oci_registry(const oci_registry&) = delete;
  oci_registry& operator=(const oci_registry&) = delete;
  ~oci_registry() {
    registry_.stop();
    tokens_.stop();
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  // Empty on success, else why the registry could not run (the case then skips).
  std::string start(auth mode) {
    for (const char* tool : {"/usr/bin/docker-registry", "/usr/bin/skopeo", "/usr/bin/curl"})
      if (::access(tool, X_OK) != 0)
        return std::string(tool) + " not installed (scripts/deps.sh: docker-registry skopeo curl)";
    std::string t = (std::filesystem::temp_directory_path() / "erofsfs-oci-XXXXXX").string();
    if (!::mkdtemp(t.data())) return "mkdtemp failed";
    dir_ = t;
    std::string auth_conf;
    if (mode == auth::htpasswd) {
      if (::access("/usr/bin/htpasswd", X_OK) != 0) return "htpasswd not installed (apache2-utils)";
      if (run_to_end({"/usr/bin/htpasswd", "-Bbn", user, password}, dir_ + "/htpasswd.out") != 0)
        return "htpasswd failed";
      // htpasswd -n prints the line and an empty line: keep the first.
      std::string line = read_text(dir_ + "/htpasswd.out");
      write_text(dir_ + "/htpasswd", line.substr(0, line.find('\n') + 1));
      needs_creds_ = true;
      auth_conf = "auth:\n  htpasswd:\n    realm: erofsfs-test\n    path: " + dir_ + "/htpasswd\n";
    } else if (mode == auth::token) {
      if (std::string why = start_token_service(); !why.empty()) return why;
      auth_conf = "auth:\n  token:\n    realm: http://127.0.0.1:" + std::to_string(token_port_) +
                  "/token\n    service: erofsfs-registry\n    issuer: erofsfs-test-issuer\n"
                  "    rootcertbundle: " + dir_ + "/token.crt\n";
    }
    for (int attempt = 0; attempt < 5; ++attempt) {  // another process may take the port first
      port_ = free_port();
      write_text(dir_ + "/config.yml",
                 "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
                 "storage:\n  filesystem:\n    rootdirectory: " + dir_ + "/data\n" +
                     "http:\n  addr: 127.0.0.1:" + std::to_string(port_) + "\n" + auth_conf);
      // Its log (stderr) goes to a file; sh execs the registry, so stop() signals it.
      registry_.start({"/bin/sh", "-c",
                       "exec /usr/bin/docker-registry serve '" + dir_ + "/config.yml' >'" + dir_ +
                           "/registry.log' 2>&1"});
      if (wait_for_port(port_, registry_)) return {};
      registry_.stop();
    }
    return "docker-registry did not start: " + read_text(dir_ + "/registry.log");
  }

  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  const std::string& dir() const { return dir_; }
  // The registry's file for blob `digest` ("sha256:hex"), for corrupting it in place.
  std::string blob_file(const std::string& digest) const {
    const std::string hex = digest.substr(7);
    return dir_ + "/data/docker/registry/v2/blobs/sha256/" + hex.substr(0, 2) + "/" + hex + "/data";
  }
  // An auth file (docker config.json) with `u`:`p` for this registry.
  std::string auth_file(const std::string& u, const std::string& p) const {
    const std::string path = dir_ + "/auth-" + u + ".json";
    const std::string plain = u + ":" + p;
    static constexpr char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string b64;
    for (std::size_t i = 0; i < plain.size(); i += 3) {
      const std::size_t n = std::min<std::size_t>(3, plain.size() - i);
      unsigned v = 0;
      for (std::size_t k = 0; k < 3; ++k) v = (v << 8) | (k < n ? static_cast<unsigned char>(plain[i + k]) : 0u);
      b64 += abc[(v >> 18) & 63];
      b64 += abc[(v >> 12) & 63];
      b64 += n > 1 ? abc[(v >> 6) & 63] : '=';
      b64 += n > 2 ? abc[v & 63] : '=';
    }
    write_text(path, "{\"auths\":{\"" + host() + "\":{\"auth\":\"" + b64 + "\"}}}");
    return path;
  }

  // skopeo copy oci:LAYOUT:tag docker://HOST/repo:tag; empty on success, else skopeo's output.
  std::string push(const std::string& layout, const std::string& tag, const std::string& repo) const {
    std::vector<std::string> argv{"/usr/bin/skopeo", "copy", "--dest-tls-verify=false"};
    if (needs_creds_) {
      argv.push_back("--dest-creds");
      argv.push_back(std::string(user) + ":" + password);
    }
    argv.push_back("oci:" + layout + ":" + tag);
    argv.push_back("docker://" + host() + "/" + repo + ":" + tag);
    const std::string log = dir_ + "/skopeo.log";
    if (run_to_end(argv, log) != 0) return "skopeo copy failed: " + read_text(log);
    return {};
  }

  // PUT /v2/<repo>/manifests/<ref> with curl (anonymous registries only); the HTTP status.
  int put_manifest(const std::string& repo, const std::string& ref, const std::string& media_type,
                   const std::string& bytes) const {
    const std::string file = dir_ + "/put-manifest.json", out = dir_ + "/put.out";
    write_text(file, bytes);
    run_to_end({"/usr/bin/curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT", "-H",
                "Content-Type: " + media_type, "--data-binary", "@" + file,
                "http://" + host() + "/v2/" + repo + "/manifests/" + ref},
               out);
    return std::atoi(read_text(out).c_str());
  }

 private:
  std::string start_token_service() {
    if (::access("/usr/bin/openssl", X_OK) != 0) return "openssl not installed";
    if (::access("/usr/bin/python3", X_OK) != 0) return "python3 not installed";
    if (run_to_end({"/usr/bin/python3", "-c", "import jwt, cryptography"}, dir_ + "/py.log") != 0)
      return "python3-jwt or python3-cryptography not installed";
    if (run_to_end({"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    dir_ + "/token.key", "-out", dir_ + "/token.crt", "-days", "2", "-subj",
                    "/CN=erofsfs-test-token"},
                   dir_ + "/openssl.log") != 0)
      return "openssl req failed: " + read_text(dir_ + "/openssl.log");
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return "pipe failed";
    const bool started = tokens_.start(
        {"/usr/bin/python3", std::string(EROFSFS_TEST_DATA) + "/../support/oci_token_service.py",
         "--key", dir_ + "/token.key", "--cert", dir_ + "/token.crt", "--issuer",
         "erofsfs-test-issuer", "--user", user, "--password", password},
        fds[1]);
    ::close(fds[1]);
    std::string line;
    char c;
    while (started && line.size() < 16 && ::read(fds[0], &c, 1) == 1 && c != '\n') line += c;
    ::close(fds[0]);
    token_port_ = std::atoi(line.c_str());
    if (token_port_ <= 0 || !wait_for_port(token_port_, tokens_)) return "token service did not start";
    needs_creds_ = true;
    return {};
  }

  child_process registry_, tokens_;
  std::string dir_;
  int port_ = -1, token_port_ = -1;
  bool needs_creds_ = false;
};

}  // namespace erofsfs::test
