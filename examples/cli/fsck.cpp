// `erofsfs fsck IMG`: reads everything the kernel could be asked for (every inode, directory
// block, xattr, symlink target, index entry and stored byte of file data; holes are checked by
// their mapping) and reports each problem with its path. Exit 1 if there was any problem. With
// --json, each problem and then the summary is one JSON object on standard output. With -j N
// the xattrs, index entries and data of regular files are checked on N workers; problems are
// printed in walk order all the same, so the report does not depend on N.
#include <algorithm>

#include "common.hpp"
#include "json.hpp"
#include "parallel.hpp"

namespace erofsfs::cli {

namespace {

// What each worker owns: its read state and its read buffer (bounded: 1 MiB).
struct fsck_worker {
  read_context ctx;
  std::vector<std::byte> buf = std::vector<std::byte>(1u << 20);
  std::vector<std::byte> scratch;  // read_view's, when the image is not mapped (<= buf's size)
  unsigned char sink = 0;          // what touch_mapped loads goes here, so the loads stay
};

// One regular file's data check: one job, or one per range of a big file; its first problem
// (by offset, as a serial check would stop at it) is reported when the last range is done.
struct file_check {
  inode ino;
  std::string path;
  ordered_output::slot_id slot = 0;
  std::atomic<unsigned> holders{1};  // the walk while it plans, plus one per range job
  first_problem problem;
};

class checker {
 public:
  checker(const image& img, const args& a, shared_resident_bound& resident,
          worker_pool<fsck_worker>& pool, ordered_output& out, scan_counters& counters)
      : img_(img), a_(a), as_json_(a.has("json")), resident_(resident), pool_(pool), out_(out),
        counters_(counters) {}

  void run() {
    auto root = read_inode(img_, img_.sb().root_nid);
    if (!root) {
      const auto slot = out_.open();
      report_problem(slot, "/", root.error());
      out_.release(slot);
      return;
    }
    struct {
      checker& c;
      result<bool> enter(const walk_entry& n) {
        c.slot_ = c.out_.open();
        const bool descend = c.check_entry(n);
        c.out_.release(c.slot_);
        return descend;
      }
      void problem(std::string_view path, const error& e) {
        const auto slot = c.out_.open();
        c.report_problem(slot, path, e);
        c.out_.release(slot);
      }
    } visitor{*this};
    walk_options opts;
    opts.on_error = walk_errors::report;
    opts.check_dot_entries = true;
    (void)walk_tree(img_, *root, "/", ctx_, visitor, opts);  // report mode: problems counted
    batch_.flush();
    pool_.wait();
  }

  void print_summary() const {
    if (as_json_) {
      json::object j;
      j.string("kind", "summary")
          .number("directories", dirs_)
          .number("files", files_)
          .number("symlinks", symlinks_)
          .number("other_inodes", others_)
          .number("bytes_read", bytes_.load())
          .number("problems", problems_.load());
      json::print_line(j);
    } else {
      std::printf("%" PRIu64 " directories, %" PRIu64 " files, %" PRIu64 " symlinks, %" PRIu64
                  " other inodes, %" PRIu64 " bytes read, %" PRIu64 " problems\n",
                  dirs_, files_, symlinks_, others_, bytes_.load(), problems_.load());
    }
  }
  std::uint64_t problems() const { return problems_.load(); }

 private:
  using slot_id = ordered_output::slot_id;

  void report_problem(slot_id slot, std::string_view path, const error& e) {
    ++problems_;
    if (!as_json_) {
      out_.say(slot, stderr,
               "erofsfs: " + std::string(a_.cmd) + ": " + escape(path) + ": " + e.message());
      return;
    }
    json::object j;
    j.string("kind", "problem").string("path", path);
    out_.say(slot, stdout, json::error_fields(j, e).str());
  }

  // Reads one stored extent (decoded, checked against the source). False after a problem.
  bool check_extent(fsck_worker& w, file_check& f, const extent& e) {
    std::uint64_t offset = e.logical;
    while (offset < e.end()) {  // bounded: offset grows by > 0 each pass or the loop ends
      const std::size_t want =
          static_cast<std::size_t>(std::min<std::uint64_t>(w.buf.size(), e.end() - offset));
      auto n = e.kind == extent_kind::mapped
                   ? touch_mapped(w, f, offset, want)
                   : read(img_, f.ino, offset, std::span(w.buf).first(want), w.ctx);
      if (!n) {
        f.problem.offer(offset, n.error());
        return false;
      }
      if (*n == 0) {
        f.problem.offer(offset, make_error(errc::internal,
                                           "read returned no data before end of file",
                                           {.nid = f.ino.nid, .offset = offset}));
        return false;
      }
      offset += *n;
      bytes_ += *n;
      counters_.bytes += *n;
      resident_.data(*n);
    }
    return true;
  }

  // Plain data is not decoded and has no checksum: reading it checks that the device holds the
  // range and that its pages can be read. From a mapped image, one load per page makes the
  // kernel read every page, as copying them would, without the copy (on /usr/share, warm, the
  // copy was 54% of fsck's time). Other sources are read into the buffer.
  result<std::size_t> touch_mapped(fsck_worker& w, file_check& f, std::uint64_t offset,
                                   std::size_t want) {
    EROFSFS_TRY_ASSIGN(const bytes_view v, read_view(img_, f.ino, offset, want, w.scratch, w.ctx));
    const auto* p = reinterpret_cast<const volatile unsigned char*>(v.data());
    unsigned char sink = 0;
    for (std::size_t i = 0; i < v.size(); i += 4096)  // bounded by want (<= 1 MiB)
      sink = static_cast<unsigned char>(sink ^ p[i]);
    if (!v.empty()) sink = static_cast<unsigned char>(sink ^ p[v.size() - 1]);
    w.sink ^= sink;
    return v.size();
  }

  // Walks the extent listing of a file: it must tile the file (lazy-loading daemons rely on
  // it). Each stored extent goes to `stored`, which returns false to stop. Holes cost nothing:
  // cost is O(extents + stored bytes), never the size a file claims.
  template <class Stored>
  void walk_extents(file_check& f, Stored&& stored) {
    extent_iterator it(img_, f.ino);
    extent e;
    std::uint64_t covered = 0;
    while (true) {  // bounded: the iterator advances through the file and stops at its end
      auto more = it.next(e);
      if (!more) return f.problem.offer(covered, more.error());
      if (!*more) break;
      if (e.logical != covered)
        return f.problem.offer(covered, make_error(errc::internal, "extent listing has a gap",
                                                   {.nid = f.ino.nid, .offset = covered,
                                                    .value = e.logical}));
      covered = e.end();
      if (e.kind == extent_kind::hole) continue;
      if (!stored(e)) return;
    }
    if (covered != f.ino.size)
      f.problem.offer(covered, make_error(errc::internal, "extent listing does not cover the file",
                                          {.nid = f.ino.nid, .offset = covered,
                                           .value = f.ino.size}));
  }

  void finish(file_check& f) {
    if (f.problem.has) report_problem(f.slot, f.path, *f.problem.err);
    counters_.files += 1;
    out_.release(f.slot);
  }
  void drop_hold(const std::shared_ptr<file_check>& f) {
    if (f->holders.fetch_sub(1) == 1) finish(*f);
  }

  // A whole file on a worker: its xattrs, its index entries, then (if they all map) its data.
  void check_whole(fsck_worker& w, const std::shared_ptr<file_check>& f) {
    check_xattrs(f->slot, f->path, f->ino);
    if (check_index(f->slot, f->path, f->ino))
      walk_extents(*f, [&](const extent& e) { return check_extent(w, *f, e); });
    drop_hold(f);
  }

  void check_data(const walk_entry& n) {
    auto f = std::make_shared<file_check>();
    f->ino = n.ino;
    f->path = std::string(n.path);
    f->slot = slot_;
    out_.hold(slot_);  // released by finish()
    if (pool_.threads() == 1) {
      pool_.submit([this, f](fsck_worker& w) { check_whole(w, f); });
      return;
    }
    if (n.ino.size <= fsck_split.split_above) return batch_.add(std::move(f), n.ino.size);
    // A big file: the walk checks its xattrs and index and lists the extents, workers read ranges of
    // whole extents.
    check_xattrs(slot_, f->path, f->ino);
    if (!check_index(slot_, f->path, f->ino)) return drop_hold(f);
    extent_ranges ranges(fsck_split.range_bytes);
    auto submit_range = [&] {
      f->holders += 1;
      pool_.submit([this, f, r = ranges.take()](fsck_worker& w) {
        for (const extent& x : r)
          if (!check_extent(w, *f, x)) break;
        drop_hold(f);
      });
    };
    walk_extents(*f, [&](const extent& e) {
      if (ranges.add(e)) submit_range();
      return true;
    });
    if (!ranges.empty()) submit_range();
    drop_hold(f);
  }

  void check_xattrs(slot_id slot, std::string_view path, const inode& ino) {
    auto xs = list_xattrs(img_, ino);
    if (!xs) report_problem(slot, path, xs.error());
  }

  // Every index entry, as a page-by-page reader (the kernel) uses it: false if one fails.
  // Any thread: a regular file's is checked in its job, off the walk (on a tree of small
  // files the walk thread is what the workers wait for).
  bool check_index(slot_id slot, std::string_view path, const inode& ino) {
    const auto p = check_mapping(img_, ino);
    if (!p) return true;
    std::string where(path);
    if (p->entry != index_entry::none)
      where += std::string(": ") + index_entry_name(p->entry) + " " + std::to_string(p->index);
    report_problem(slot, where, p->err);
    return false;
  }

  bool check_entry(const walk_entry& n) {
    const inode& ino = n.ino;
    resident_.inode();
    // Hard links: indexes and data are checked once per inode; data only if every entry maps
    // (a regular file's xattrs and index are checked by check_data's job).
    const bool first = data_checked_.insert(ino.nid).second;
    if (ino.type() == file_type::regular) {
      ++files_;
      if (first)
        check_data(n);
      else
        check_xattrs(slot_, n.path, ino);
      return false;
    }
    check_xattrs(slot_, n.path, ino);
    const bool check = first && check_index(slot_, n.path, ino);
    switch (ino.type()) {
      case file_type::directory:
        ++dirs_;
        return true;
      case file_type::symlink:
        ++symlinks_;
        if (check) {
          auto t = read_link(img_, ino, ctx_);
          if (!t)
            report_problem(slot_, n.path, t.error());
          else
            bytes_ += t->size();
        }
        return false;
      default:
        ++others_;
        return false;
    }
  }

  const image& img_;
  const args& a_;
  const bool as_json_;
  read_context ctx_;  // the walk's
  shared_resident_bound& resident_;
  worker_pool<fsck_worker>& pool_;
  ordered_output& out_;
  scan_counters& counters_;
  slot_id slot_ = 0;  // the walk step's output slot
  job_batch<file_check, fsck_worker> batch_{
      pool_, [this](fsck_worker& w, const std::shared_ptr<file_check>& f) { check_whole(w, f); }};
  std::unordered_set<std::uint64_t> data_checked_;  // hard links: read the data once
  std::uint64_t dirs_ = 0, files_ = 0, symlinks_ = 0, others_ = 0;
  std::atomic<std::uint64_t> bytes_{0}, problems_{0};
};

int run_fsck(const args& a) {
  unsigned threads = 1;
  if (!worker_count(a, threads)) return exit_usage;
  auto o = open_image(a, a.positional[0]);
  if (!o) return exit_problem;
  std::unique_ptr<decoded_cache> cache;
  if (!make_scan_cache(a, o->img, cache)) return exit_usage;
  shared_resident_bound resident(*o);  // RSS stays bounded whatever the image size
  worker_pool<fsck_worker> pool(threads, [&] {
    fsck_worker w;
    w.ctx.shared_cache = cache.get();
    return w;
  });
  ordered_output out;
  scan_counters counters;
  progress_line progress(progress_line::wanted(a), a.cmd, counters, out);
  checker c(o->img, a, resident, pool, out, counters);
  c.run();
  progress.stop();
  if (!a.has(quiet_option.name)) c.print_summary();
  return c.problems() ? exit_problem : exit_ok;
}

constexpr option_def options[] = {
    common::json,
    jobs_option,
    scan_cache_option,
    progress_option,
    quiet_option,
};
constexpr positional_def positionals[] = {{"IMG", arity::one}};

}  // namespace

const command_spec fsck_command{
    "fsck", "read every inode, directory, xattr and byte of data; report each problem", options,
    common::image_options, positionals, run_fsck};

}  // namespace erofsfs::cli
