#!/usr/bin/env python3
"""Deterministic composefs dump files (composefs-dump(5)) for mkcomposefs --from-file.

usage: mkdump.py SEED KIND DEST

A dump file declares every inode as one text line, so it can describe trees no local
filesystem holds: metadata-only files of any size (their data live in a digest store the
image only names), petabyte sparse files, thousands of whiteouts.  Names, sizes, digests,
xattr values and mtimes come from the seed (SHAKE-256), so a seed always yields the same file.

kinds:
  cfs   metadata-only files (payload + fs-verity digest, no data in the image) from 0 bytes
        to multi-chunk sizes, inline files, a hard link, long symlinks (4000 and 4095 bytes),
        200 char-device 0:0 whiteouts, other device nodes and a fifo, trusted.overlay.* /
        user.overlay.* / security.* xattrs (mkcomposefs escapes trusted.overlay.*), a
        300-entry directory, 32-bit owners, mtimes with nanoseconds
  huge  a small tree whose files are holes: 2^50 bytes (1 PiB, 128 chunks of 2^43), and
        8.74e15 bytes (994 chunks: the largest chunk map mkcomposefs 1.0.8 places right, see
        FIXTURES.md), next to an inline file
"""
import hashlib
import sys

T0 = 1700000000


class Rand:
    def __init__(self, seed, label):
        self.h = hashlib.shake_256(("%s/%s" % (seed, label)).encode())
        self.pos = 0
        self.buf = b""

    def bytes(self, n):
        while len(self.buf) < self.pos + n:
            self.buf = self.h.digest(max(2 * len(self.buf), self.pos + n + 4096))
        b = self.buf[self.pos:self.pos + n]
        self.pos += n
        return b

    def int(self, lo, hi):
        return lo + int.from_bytes(self.bytes(8), "little") % (hi - lo + 1)


def esc(b, eq=False):
    """composefs-dump escaping of one field (bytes in, str out)."""
    if isinstance(b, str):
        b = b.encode()
    if b == b"":
        return ""
    if b == b"-":
        return "\\x2d"
    out = []
    for c in b:
        ch = chr(c)
        if c <= 0x20 or c >= 0x7f or ch == "\\" or (eq and ch == "="):
            out.append("\\x%02x" % c)
        else:
            out.append(ch)
    return "".join(out)


class Dump:
    def __init__(self, seed, kind):
        self.r = Rand(seed, kind)
        self.lines = []

    def add(self, path, size, mode, nlink=1, uid=0, gid=0, rdev=0, mtime=(T0, 0),
            payload=None, content=None, digest=None, xattrs=(), hardlink=False):
        f = [esc(path), str(size), ("@" if hardlink else "") + "%o" % mode, str(nlink), str(uid), str(gid),
             str(rdev), "%d.%d" % mtime,
             "-" if payload is None else esc(payload),
             "-" if content is None else esc(content),
             "-" if digest is None else digest]
        for k, v in xattrs:
            f.append(esc(k, eq=True) + "=" + esc(v))
        self.lines.append(" ".join(f))

    def mtime(self):
        return (self.r.int(1577836800, 1798761600), self.r.int(0, 999999999))

    def digest(self):
        return self.r.bytes(32).hex()

    def meta_file(self, path, size, **kw):
        """A metadata-only file: the image stores its size, a redirect to the digest-named
        object and the digest; its data are not in the image (the kernel reads holes)."""
        d = self.digest()
        self.add(path, size, 0o100644, payload=d[:2] + "/" + d[2:], digest=d, mtime=self.mtime(), **kw)

    def text(self):
        return "".join(l + "\n" for l in self.lines)


def rdev(major, minor):
    return (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12) | ((major & ~0xfff) << 32)


def kind_cfs(d):
    r = d.r
    D = 0o40755
    d.add("/", 4096, D, nlink=11, mtime=(T0, 0), xattrs=[("user.root", "composefs")])
    d.add("/empty", 0, 0o100600, mtime=d.mtime())
    d.add("/inline", 4096, D, nlink=2, mtime=d.mtime())
    for n in (1, 17, 63, 64):
        d.add("/inline/size-%d" % n, n, 0o100644, content=r.bytes(n), mtime=d.mtime())
    d.add("/meta", 4096, D, nlink=2, mtime=d.mtime())
    for n in (1, 4095, 4096, 4097, 65536, 1048577, 2**43 + 5):
        d.meta_file("/meta/f-%d" % n, n, xattrs=[("user.size", str(n))] if n == 4097 else ())
    d.add("/meta/hard-link", 4096, 0o100644, payload="/meta/f-4096", hardlink=True)
    d.add("/links", 4096, D, nlink=2, mtime=d.mtime())
    for n in (1, 60, 4000, 4095):
        t = "/" + "".join("abcdefghij/"[i % 11] for i in range(n - 1)) if n > 1 else "x"
        d.add("/links/len-%d" % n, n, 0o120777, payload=t, mtime=d.mtime())
    d.add("/links/dangling", 12, 0o120777, payload="../no/such/x", mtime=d.mtime())
    d.add("/whiteouts", 4096, D, nlink=2, mtime=d.mtime())
    for i in range(200):
        d.add("/whiteouts/w%03d" % i, 0, 0o20000, mtime=(T0, 0))
    d.add("/devices", 4096, D, nlink=2, mtime=d.mtime())
    d.add("/devices/null", 0, 0o20666, rdev=rdev(1, 3), mtime=d.mtime())
    d.add("/devices/chr-big", 0, 0o20660, rdev=rdev(4095, 1048575), mtime=d.mtime())
    d.add("/devices/sda1", 0, 0o60660, gid=6, rdev=rdev(8, 1), mtime=d.mtime())
    d.add("/devices/fifo", 0, 0o10644, mtime=d.mtime())
    d.add("/overlay", 4096, D, nlink=3, mtime=d.mtime(),
          xattrs=[("trusted.overlay.opaque", "y"), ("user.overlay.opaque", "y")])
    d.add("/overlay/sub", 4096, D, nlink=2, mtime=d.mtime(),
          xattrs=[("trusted.overlay.redirect", "/elsewhere")])
    d.meta_file("/overlay/redirected", 300,
                xattrs=[("trusted.overlay.origin", r.bytes(29)), ("trusted.overlay.metacopy", "")])
    d.meta_file("/overlay/caps", 4096,
                xattrs=[("security.capability", bytes.fromhex("0100000200200000000000000000000000000000")),
                        ("security.selinux", b"system_u:object_r:bin_t:s0\0"),
                        ("trusted.other", "x"), ("user.empty", "")])
    d.add("/overlay/whiteout", 0, 0o20000, mtime=(T0, 0))
    d.add("/bigdir", 4096, D, nlink=2, mtime=d.mtime())
    names = set()
    while len(names) < 300:
        n = r.int(1, 255)
        names.add("".join("abcdefghijklmnopqrstuvwxyz0123456789._-"[b % 39] for b in r.bytes(n)))
    for name in sorted(names):
        if name in (".", ".."):
            continue
        d.add("/bigdir/" + name, 0, 0o100644, mtime=(T0, 0))
    d.add("/owners", 4096, D, nlink=2, uid=1234, gid=5678, mtime=d.mtime())
    d.add("/owners/big-ids", 0, 0o104755, uid=4000000000, gid=3000000000, mtime=d.mtime())
    d.add("/owners/nobody", 0, 0o100640, uid=65534, gid=65534, mtime=d.mtime())
    d.add("/times", 4096, D, nlink=2, mtime=(86400, 5))
    for label, mt in (("epoch", (0, 0)), ("nsec-max", (T0, 999999999)), ("y2038", (2**31, 1)),
                      ("beyond-32bit", (2**32 + 12345, 123456789))):
        d.add("/times/" + label, 0, 0o100644, mtime=mt)
    d.add("/names", 4096, D, nlink=2, mtime=d.mtime())
    for name in ("with space", "tab\there", "back\\slash", "eq=sign", "-", "caf\u00e9", "\u65e5" * 85):
        d.add("/names/" + name, 0, 0o100644, mtime=(T0, 0))


def kind_huge(d):
    D = 0o40755
    d.add("/", 4096, D, nlink=3, mtime=(T0, 0))
    d.add("/readme", 44, 0o100644, content=b"two holes: 2^50 bytes and 8.74e15 bytes.\n\0\0\0", mtime=(T0, 0))
    d.add("/sparse", 4096, D, nlink=2, mtime=(T0, 0))
    d.meta_file("/sparse/pib-2-50", 2**50)
    d.meta_file("/sparse/near-9e15", 8740000000000000)


KINDS = {"cfs": kind_cfs, "huge": kind_huge}


def main():
    if len(sys.argv) != 4 or sys.argv[2] not in KINDS:
        sys.exit("usage: mkdump.py SEED {%s} DEST" % ",".join(KINDS))
    d = Dump(sys.argv[1], sys.argv[2])
    KINDS[sys.argv[2]](d)
    with open(sys.argv[3], "w") as f:
        f.write(d.text())


if __name__ == "__main__":
    main()
