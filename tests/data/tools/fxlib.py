"""Helpers shared by the fixture generator: manifests, comparisons, kernel mounts."""
import ctypes
import hashlib
import json
import os
import stat
import subprocess

TYPES = {
    stat.S_IFDIR: "dir", stat.S_IFREG: "file", stat.S_IFLNK: "symlink", stat.S_IFCHR: "chrdev",
    stat.S_IFBLK: "blkdev", stat.S_IFIFO: "fifo", stat.S_IFSOCK: "socket",
}


def sha256_file(path, chunk=1 << 20):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(chunk)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


# Files larger than this are not hashed whole (a 2^50-byte hole would take days to read);
# their manifest entry has "sha256_windows" instead of "sha256": see window_starts().
WHOLE_HASH_LIMIT = 1 << 32
WINDOW = 1 << 16


def window_starts(size):
    """Where the sampled windows of a big file start: 0, every power of two from 2^20 below
    the size, and the last WINDOW bytes.  Each window is min(WINDOW, size - start) bytes."""
    starts = {0, max(0, size - WINDOW)}
    k = 20
    while k < 64 and (1 << k) < size:
        starts.add(1 << k)
        k += 1
    return sorted(starts)


def sha256_windows(path, size):
    """"START+LENGTH:SHA256" for each window, comma-separated (a string keeps the manifest
    flat JSON)."""
    out = []
    with open(path, "rb") as f:
        for s in window_starts(size):
            n = min(WINDOW, size - s)
            f.seek(s)
            b = f.read(n)
            if len(b) != n:
                raise OSError("short read at %d" % s)
            out.append("%d+%d:%s" % (s, n, hashlib.sha256(b).hexdigest()))
    return ",".join(out)


def _entry(root, rel):
    """rel: bytes path relative to root ('' for the root itself)."""
    full = os.path.join(root, rel) if rel else root
    st = os.lstat(full)
    t = TYPES[stat.S_IFMT(st.st_mode)]
    path = "/" + rel.decode("utf-8") if rel else "/"
    e = {
        "path": path,
        "type": t,
        "perm": "%04o" % stat.S_IMODE(st.st_mode),
        "mode": st.st_mode,
        "uid": st.st_uid,
        "gid": st.st_gid,
        "nlink": st.st_nlink,
        "size": st.st_size,
        "mtime": st.st_mtime_ns // 10**9,
        "mtime_nsec": st.st_mtime_ns % 10**9,
        "ino": st.st_ino,
        "blocks": st.st_blocks,
    }
    if t == "file" and st.st_size > WHOLE_HASH_LIMIT:
        e["sha256_windows"] = sha256_windows(full, st.st_size)
    elif t == "file":
        e["sha256"] = sha256_file(full)
    elif t == "symlink":
        e["target"] = os.readlink(full).decode("utf-8")
    elif t in ("chrdev", "blkdev"):
        e["rdev_major"] = os.major(st.st_rdev)
        e["rdev_minor"] = os.minor(st.st_rdev)
    xs = {}
    for n in sorted(os.listxattr(full, follow_symlinks=False), key=lambda s: s.encode()):
        xs[n] = os.getxattr(full, n, follow_symlinks=False).hex()
    e["xattrs"] = xs
    return e


def manifest(root):
    """All inodes reachable from root, sorted by path (bytewise)."""
    root = os.fsencode(root)
    out = [_entry(root, b"")]
    stack = [b""]
    while stack:
        rel = stack.pop()
        full = os.path.join(root, rel) if rel else root
        for de in os.scandir(full):
            crel = os.path.join(rel, de.name) if rel else de.name
            e = _entry(root, crel)
            out.append(e)
            if e["type"] == "dir":
                stack.append(crel)
    out.sort(key=lambda e: e["path"].encode())
    return out


def write_jsonl(entries, path):
    with open(path, "w", encoding="utf-8") as f:
        for e in entries:
            f.write(json.dumps(e, ensure_ascii=False, separators=(",", ":")) + "\n")


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


CONTENT_FIELDS = ["type", "perm", "mode", "uid", "gid", "nlink", "size", "mtime", "mtime_nsec",
                  "sha256", "sha256_windows", "target", "rdev_major", "rdev_minor", "xattrs"]


def compare(expected, actual, ignore=(), dir_ignore=("size",), limit=60):
    """Compare two manifests (lists of entries). Returns (count, [differences])."""
    ea = {e["path"]: e for e in expected}
    aa = {e["path"]: e for e in actual}
    diffs = []
    for p in sorted(set(ea) | set(aa), key=lambda s: s.encode()):
        if p not in aa:
            diffs.append({"path": p, "what": "missing"})
            continue
        if p not in ea:
            diffs.append({"path": p, "what": "unexpected"})
            continue
        x, y = ea[p], aa[p]
        for f in CONTENT_FIELDS:
            if f in ignore or (x.get("type") == "dir" and f in dir_ignore):
                continue
            if x.get(f) != y.get(f):
                diffs.append({"path": p, "field": f, "expected": x.get(f), "got": y.get(f)})
    return len(diffs), diffs[:limit]


# --------------------------------------------------------------------------- kernel mounts
_libc = ctypes.CDLL(None, use_errno=True)
MS_RDONLY = 1
MNT_DETACH = 2


def kmount(image, target, options=""):
    """mount(2) directly, so the kernel uses a file-backed erofs mount (no loop device)."""
    r = _libc.mount(os.fsencode(image), os.fsencode(target), b"erofs", MS_RDONLY,
                    options.encode() if options else None)
    if r != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def kumount(target):
    if _libc.umount2(os.fsencode(target), 0) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def dmesg_tail(n=5):
    try:
        out = subprocess.run(["dmesg"], capture_output=True, text=True, errors="replace").stdout
        return [l for l in out.splitlines() if "erofs" in l][-n:]
    except OSError:
        return []
