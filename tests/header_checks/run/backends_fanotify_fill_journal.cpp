// erofsfs/backends/fanotify/fill_journal.hpp alone: its entry points link and work in a
// temporary directory (no fanotify group needed).
#include <erofsfs/backends/fanotify/fill_journal.hpp>

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "check.hpp"

namespace {
int check(const std::string& path, std::uint64_t image_size) {
  namespace fa = erofsfs::fanotify;
  const std::uint64_t sizes[] = {image_size, 8192};
  std::vector<fa::interval_set> present(2);
  {
    auto j = fa::fill_journal::open(path, sizes, present);
    HEADER_EXPECT(j && j->is_open() && j->records() == 0 && present[0].size() == 0);
    HEADER_EXPECT(j->append(0, 0, 4096) && j->append(0, 4096, 8192) && j->append(1, 0, 100));
    HEADER_EXPECT(j->records() == 3);
  }
  // Replayed by a new open, and read without changing the file.
  {
    auto j = fa::fill_journal::open(path, sizes, present);
    HEADER_EXPECT(j && present[0].contains(0, 8192) && present[0].bytes() == 8192);
    HEADER_EXPECT(present[1].contains(0, 100) && !present[1].contains(0, 101));
    std::vector<fa::interval_set> seen(2);
    HEADER_EXPECT(fa::fill_journal::read_only(path, sizes, seen));
    HEADER_EXPECT(seen[0].bytes() == 8192 && seen[1].bytes() == 100);
    HEADER_EXPECT(j->replay(present) && present[0].bytes() == 8192);
  }
  // A record as encode() writes it, then a torn one: replay keeps the first, cuts the tail.
  std::byte r[fa::journal_record_size];
  fa::fill_journal::encode(1, 4096, 8192, r);
  HEADER_EXPECT(erofsfs::load_le32(r) == fa::journal_magic);
  {
    const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND);
    HEADER_EXPECT(fd >= 0);
    const bool ok = ::write(fd, r, sizeof r) == static_cast<ssize_t>(sizeof r) &&
                    ::write(fd, r, 7) == 7;  // torn
    ::close(fd);
    HEADER_EXPECT(ok);
  }
  {
    auto j = fa::fill_journal::open(path, sizes, present);
    HEADER_EXPECT(j && present[1].bytes() == 100 + 4096);
    struct stat st;
    HEADER_EXPECT(::stat(path.c_str(), &st) == 0 && st.st_size == 4 * fa::journal_record_size);
  }
  // A record outside its device ends replay: it promises nothing.
  fa::fill_journal::encode(1, 0, 9000, r);
  {
    const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND);
    HEADER_EXPECT(fd >= 0);
    const bool ok = ::write(fd, r, sizeof r) == static_cast<ssize_t>(sizeof r);
    ::close(fd);
    HEADER_EXPECT(ok);
  }
  std::vector<fa::interval_set> seen(2);
  HEADER_EXPECT(fa::fill_journal::read_only(path, sizes, seen) && seen[1].bytes() == 4196);
  HEADER_EXPECT(fa::fill_journal::read_only(path + ".missing", sizes, seen) && seen[0].bytes() == 0);
  return 0;
}
}  // namespace

int header_check(const header_check_input& in) {
  char dir[] = "/tmp/erofsfs-header-check-XXXXXX";
  HEADER_EXPECT(::mkdtemp(dir) != nullptr);
  const std::string path = std::string(dir) + "/filled.journal";
  const int rc = check(path, in.bytes.size());
  ::unlink(path.c_str());
  ::rmdir(dir);
  return rc;
}
