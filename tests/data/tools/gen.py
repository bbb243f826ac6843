#!/usr/bin/env python3
"""Generate EROFS fixture images + kernel-derived manifests.

usage: gen.py --chroot DIR --matrix FILE --seed SEED --out DIR [--only a,b,...]

  --chroot  a Debian chroot (debootstrap) with the newer erofs-utils installed; its
            /work directory is used for source trees and build directories.
  --matrix  the image list (see matrix.txt for the format).
  --seed    seed for the source trees (names, contents, xattr values, mtimes).
  --out     output directory; one sub-directory per image.

Needs root: creates device nodes, sets trusted.*/security.* xattrs, mounts images.
The host's own erofs-utils (Debian bookworm: 1.5) builds the images marked "1.5";
mkcomposefs (Debian composefs, in the chroot) builds the images marked "cfs".
"""
import argparse
import hashlib
import json
import os
import struct
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fxlib  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD_TIME = 1700000000          # -T for 1.9/1.8 images (build time only, with --mkfs-time)
TOOL18 = "/opt/erofs-utils-1.8.6/usr/bin/"   # erofs-utils 1.8.6 inside the chroot
CHROOT_TOOLS = ("1.9", "1.8", "cfs")

# Real trees (source kind real:NAME): slices of installed Debian packages, copied with their
# package mtimes/modes.  They depend on the package versions installed (info.json records them).
#   root "chroot" = the sid chroot, "host" = the bookworm host.
REAL_TREES = {
    "doc": ("chroot", "/usr/share/doc", ["apt", "bash", "debconf", "dpkg", "gzip", "libgcc-s1",
                                         "libstdc++6", "mawk", "sed", "tar"],
            ["apt", "bash", "debconf", "dpkg", "gzip", "libgcc-s1", "libstdc++6", "mawk", "sed", "tar"]),
    "python": ("host", "/usr/lib/python3.11", ["json", "http", "collections", "logging", "email/mime",
                                               "__future__.py", "abc.py", "this.py"],
               ["libpython3.11-minimal", "libpython3.11-stdlib"]),
}
HUGE_HOLE = 1 << 50   # the all-hole file of huge:NAME trees


def sh(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, errors="replace", **kw)


class Gen:
    def __init__(self, args):
        self.chroot = os.path.abspath(args.chroot)
        self.work = os.path.join(self.chroot, "work")
        self.seed = args.seed
        self.out = os.path.abspath(args.out)
        self.matrix = self.parse_matrix(args.matrix)
        if args.only:
            keep = set(args.only.split(","))
            self.matrix = [m for m in self.matrix if m["name"] in keep]
        self.trees = {}
        self.src_manifests = {}
        self.versions = self.tool_versions()
        self.kernel = os.uname().release
        self.write_source_manifest = args.source_manifest
        self.tmpfs = []

    # ------------------------------------------------------------------ setup
    def tool_versions(self):
        v = {}
        r = sh(["chroot", self.chroot, "mkfs.erofs", "-V"])
        v["1.9"] = r.stdout.strip().splitlines()[0] if r.stdout else "?"
        r = sh(["chroot", self.chroot, "dpkg-query", "-W", "-f", "${Version}", "erofs-utils"])
        v["1.9-deb"] = r.stdout.strip()
        r = sh(["dpkg-query", "-W", "-f", "${Version}", "erofs-utils"])
        v["1.5-deb"] = r.stdout.strip()
        v["1.5"] = "mkfs.erofs 1.5"  # 1.5 has no --version; it prints this banner
        r = sh(["chroot", self.chroot, TOOL18 + "mkfs.erofs", "-V"])
        v["1.8"] = r.stdout.strip().splitlines()[0] if r.stdout else "(not installed)"
        v["1.8-deb"] = "1.8.6-1 (trixie .deb unpacked with dpkg -x at %s in the chroot)" % TOOL18.rsplit("/usr", 1)[0]
        r = sh(["chroot", self.chroot, "mkcomposefs", "--version"])
        v["cfs"] = (r.stdout.strip().splitlines() or ["mkcomposefs"])[0]
        r = sh(["chroot", self.chroot, "dpkg-query", "-W", "-f", "${Version}", "composefs"])
        v["cfs-deb"] = r.stdout.strip()
        r = sh(["chroot", self.chroot, "fsck.erofs", "-V"])
        v["fsck"] = r.stdout.strip().splitlines()[0] if r.stdout else "?"
        return v

    @staticmethod
    def parse_matrix(path):
        out = []
        with open(path) as f:
            for line in f:
                line = line.rstrip("\n")
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                cols = [c.strip() for c in line.split("|")]
                while len(cols) < 6:
                    cols.append("")
                name, tool, source, opts, desc, extra = cols[:6]
                if not re.fullmatch(r"[a-z0-9][a-z0-9.+-]*", name):
                    sys.exit("bad image name %r" % name)
                out.append(dict(name=name, tool=tool, source=source, opts=opts, desc=desc, extra=extra))
        names = [m["name"] for m in out]
        if len(names) != len(set(names)):
            sys.exit("duplicate image names in matrix")
        return out

    def tree(self, kind):
        """Build (once) the source tree KIND[:maxname] under /work/trees; return its host path."""
        if kind in self.trees:
            return self.trees[kind]
        base, _, maxname = kind.partition(":")
        dirname = base + ("-" + maxname if maxname else "")
        dest = os.path.join(self.work, "trees", dirname)
        if os.path.exists(dest):
            shutil.rmtree(dest)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        argv = [sys.executable, os.path.join(HERE, "mktree.py"), self.seed, base, dest]
        if maxname:
            argv.append(maxname)
        r = sh(argv)
        if r.returncode:
            sys.exit("mktree failed for %s: %s" % (kind, r.stderr))
        self.trees[kind] = (dest, dirname, ["mktree.py", self.seed, base, "trees/" + dirname] + argv[5:])
        return self.trees[kind]

    def src_manifest(self, kind):
        if kind not in self.src_manifests:
            self.src_manifests[kind] = fxlib.manifest(self.tree(kind)[0])
        return self.src_manifests[kind]

    def uuid(self, name):
        h = hashlib.sha256(("%s/%s" % (self.seed, name)).encode()).hexdigest()
        return "%s-%s-4%s-8%s-%s" % (h[0:8], h[8:12], h[13:16], h[17:20], h[20:32])

    # ------------------------------------------------------------------ running tools
    def run_tool(self, tool, argv, cwd_rel, env=None):
        """Run an erofs-utils command; tool '1.9' runs in the chroot, '1.5' on the host.
        cwd_rel is relative to /work.  Returns (rc, output, record)."""
        env_full = dict(os.environ)
        env_full["LC_ALL"] = "C"
        env_full.pop("SOURCE_DATE_EPOCH", None)
        if env:
            env_full.update(env)
        if tool == "1.8":
            argv = [TOOL18 + argv[0]] + argv[1:]
        if tool in CHROOT_TOOLS:
            cmd = "cd %s && exec %s" % (shlex.quote("/work/" + cwd_rel), shlex.join(argv))
            r = sh(["chroot", self.chroot, "/bin/sh", "-c", cmd], env=env_full)
        elif tool == "1.5":
            r = sh(argv, cwd=os.path.join(self.work, cwd_rel), env=env_full)
        else:
            raise ValueError(tool)
        out = (r.stdout + r.stderr).replace("\r", "\n").replace("\x1b[K", "")
        out = "\n".join(l for l in out.splitlines() if l.strip() and not l.startswith("Processing "))
        rec = {"tool": self.versions[tool] + " (Debian %s " % self.package(tool) + self.versions[tool + "-deb"] + ")",
               "cwd": cwd_rel, "argv": argv}
        if env:
            rec["env"] = env
        return r.returncode, out, rec

    @staticmethod
    def package(tool):
        return "composefs" if tool == "cfs" else "erofs-utils"

    def chroot_sh(self, cmd, cwd_rel):
        r = sh(["chroot", self.chroot, "/bin/sh", "-c", "cd %s && %s" % (shlex.quote("/work/" + cwd_rel), cmd)])
        if r.returncode:
            raise RuntimeError("%s failed: %s" % (cmd, r.stdout + r.stderr))
        return {"tool": "sh (sid chroot)", "cwd": cwd_rel, "argv": ["sh", "-c", cmd]}

    def real_tree(self, kind):
        """Copy the slice REAL_TREES[kind] into /work/trees/real-KIND; return like tree()."""
        key = "real:" + kind
        if key in self.trees:
            return self.trees[key]
        root, base, parts, pkgs = REAL_TREES[kind]
        dest = os.path.join(self.work, "trees", "real-" + kind)
        if os.path.exists(dest):
            shutil.rmtree(dest)
        os.makedirs(dest)
        top = self.chroot if root == "chroot" else "/"
        for part in parts:
            os.makedirs(os.path.dirname(os.path.join(dest, part)), exist_ok=True)
            r = sh(["cp", "-a", os.path.join(top + base, part), os.path.join(dest, part)])
            if r.returncode:
                sys.exit("copy failed for %s: %s" % (part, r.stderr))
        # the directories made here get one fixed mtime, so the tree does not depend on today
        for d in sorted({os.path.dirname(p) for p in parts} | {""}):
            os.utime(os.path.join(dest, d), (BUILD_TIME, BUILD_TIME))
        q = ["dpkg-query", "-W", "-f", "${Package} ${Version}\n"] + pkgs
        r = sh((["chroot", self.chroot] if root == "chroot" else []) + q)
        self.trees[key] = (dest, "real-" + kind,
                           {"copied_from": "%s:%s" % ("sid chroot" if root == "chroot" else "bookworm host", base),
                            "parts": parts, "packages": r.stdout.split("\n")[:-1]})
        return self.trees[key]

    def huge_tree(self, kind):
        """A tmpfs tree (ext4 cannot hold 2^50-byte files) with an all-hole 2^50-byte file
        next to ordinary small files; return like tree()."""
        key = "huge:" + kind
        if key in self.trees:
            return self.trees[key]
        dest = os.path.join(self.work, "trees", "huge-" + kind)
        if os.path.ismount(dest):
            fxlib.kumount(dest)
        os.makedirs(dest, exist_ok=True)
        r = sh(["mount", "-t", "tmpfs", "-o", "size=16m,mode=0755", "tmpfs", dest])
        if r.returncode:
            sys.exit("tmpfs mount failed: " + r.stderr)
        self.tmpfs.append(dest)
        os.makedirs(os.path.join(dest, "sparse"))
        with open(os.path.join(dest, "readme"), "w") as f:
            f.write("an all-hole file of 2^50 bytes and one with data at both ends\n")
        with open(os.path.join(dest, "sparse", "pib-hole"), "wb") as f:
            f.truncate(HUGE_HOLE)
        with open(os.path.join(dest, "sparse", "tib-ends"), "wb") as f:
            f.write(b"first block\n" * 341)
            f.seek((1 << 40) - 4096)
            f.write(b"last block\n" * 372 + b"end\n")
        for p in ["readme", "sparse/pib-hole", "sparse/tib-ends", "sparse", ""]:
            os.utime(os.path.join(dest, p), (BUILD_TIME, BUILD_TIME))
        self.trees[key] = (dest, "huge-" + kind, {"made_by": "gen.py huge_tree (tmpfs)"})
        return self.trees[key]

    def flatten(self, b, name):
        """Append the blob device to the primary image at the device table's uniaddr
        (mapped_blkaddr): the single-file 'flat' shape Linux mounts without device=."""
        primary = os.path.join(b["bdir"], b["img"])
        blob_file, _ = b["devices"][0]
        with open(primary, "rb") as f:
            head = f.read(1024 + 128)
            sb = head[1024:]
            blkszbits = sb[0x0C]
            extra, slot = struct.unpack_from("<HH", sb, 0x56)
            f.seek(slot * 128 + 64)
            blocks, uniaddr = struct.unpack("<II", f.read(8))
        if extra != 1 or uniaddr == 0:
            raise RuntimeError("flat: expected one extra device with uniaddr set (got %d, %d)" % (extra, uniaddr))
        size = os.path.getsize(primary)
        start = uniaddr << blkszbits
        if size > start:
            raise RuntimeError("flat: primary (%d bytes) overlaps uniaddr %d" % (size, uniaddr))
        flat = name + ".erofs"
        with open(os.path.join(b["bdir"], flat), "wb") as out:
            with open(primary, "rb") as f:
                shutil.copyfileobj(f, out)
            out.write(b"\0" * (start - size))
            with open(os.path.join(b["bdir"], blob_file), "rb") as f:
                shutil.copyfileobj(f, out)
        b["commands"].append({"tool": "gen.py flatten", "cwd": b["bdir_rel"],
                              "argv": ["sh", "-c", "cat %s %s > %s" % (b["img"], blob_file, flat)],
                              "note": "primary padded with %d zero bytes to uniaddr %d x %d-byte blocks"
                                      % (start - size, uniaddr, 1 << blkszbits)})
        b["flat"] = {"primary": b["img"], "primary_size": size, "blob": blob_file,
                     "blob_blocks": blocks, "uniaddr": uniaddr, "padding": start - size}
        b["img"] = flat
        b["devices"] = []

    # ------------------------------------------------------------------ one image
    def build(self, m):
        name, tool = m["name"], m["tool"]
        bdir_rel = "build/" + name
        bdir = os.path.join(self.work, bdir_rel)
        if os.path.exists(bdir):
            shutil.rmtree(bdir)
        os.makedirs(bdir)
        img = name + ".erofs"
        opts = shlex.split(m["opts"].replace("{name}", name))
        flat = "@flat" in opts
        if flat:
            opts.remove("@flat")
            img = name + ".primary.erofs"
        env = {}
        while opts and re.fullmatch(r"[A-Z_]+=.*", opts[0]):
            k, _, v = opts.pop(0).partition("=")
            env[k] = v
        std = ["-U" + self.uuid(name)] if tool != "cfs" else []
        if tool in ("1.9", "1.8") and not any(o.startswith("-T") for o in opts):
            std += ["-T%d" % BUILD_TIME, "--mkfs-time"]
        if tool == "1.5":
            std += ["--quiet"]
            if not any(o.startswith("-T") for o in opts) and "SOURCE_DATE_EPOCH" not in env:
                sys.exit("%s: 1.5 images need -T or SOURCE_DATE_EPOCH to be reproducible" % name)
        commands, devices, logs = [], [], []
        src = m["source"]
        hints = None
        for o in opts:
            if o.startswith("--compress-hints="):
                hints = o.split("=", 1)[1]
                with open(os.path.join(bdir, hints), "w") as f:
                    f.write("".join(l.strip() + "\n" for l in m["extra"].split(";") if l.strip()))
        source_info = {}
        expected = None          # manifest the kernel view is cross-checked against

        if src.startswith("dump:"):
            kind = src[5:]
            dump = name + ".dump"
            dargv = [sys.executable, os.path.join(HERE, "mkdump.py"), self.seed, kind, os.path.join(bdir, dump)]
            r = sh(dargv)
            if r.returncode:
                raise RuntimeError("mkdump failed: " + r.stderr)
            commands.append({"tool": "mkdump.py", "cwd": bdir_rel, "argv": ["mkdump.py", self.seed, kind, dump]})
            argv = ["mkcomposefs", "--from-file"] + opts + [dump, img]
            source_info = {"kind": "dump:" + kind, "dumpfile": dump, "mkdump": ["mkdump.py", self.seed, kind, dump]}
        elif src.startswith("deb:") or src.startswith("debgz:"):
            import tarfile as tarmod
            gz, _, pkg = src.partition(":")
            gz = gz == "debgz"
            rec = self.chroot_sh("apt-get download %s >/dev/null && ls %s_*.deb" % (pkg, pkg), bdir_rel)
            debs = sorted(f for f in os.listdir(bdir) if f.startswith(pkg + "_") and f.endswith(".deb"))
            deb = debs[-1]
            tarfile = tarfile_name = name + (".tar.gz" if gz else ".tar")
            conv = "dpkg-deb --fsys-tarfile %s%s > %s" % (deb, " | gzip -n -9" if gz else "", tarfile)
            commands += [rec, self.chroot_sh(conv, bdir_rel)]
            argv = ["mkfs.erofs"] + std + opts + [img, tarfile]
            if any(o.startswith("--tar=i") for o in opts):
                devices.append((tarfile, "tar (data blob of the index-only image)"))
            # the expected view: the tarball unpacked by GNU tar as root
            xdir = os.path.join(self.work, "trees", "deb-" + name)
            shutil.rmtree(xdir, ignore_errors=True)
            os.makedirs(xdir)
            commands.append(self.chroot_sh("tar -x%sf %s --numeric-owner -p -C ../../trees/deb-%s"
                                           % ("z" if gz else "", tarfile, name), bdir_rel))
            with tarmod.open(os.path.join(bdir, tarfile_name)) as t:   # GNU tar leaves "./" mtime alone
                root = [mm for mm in t.getmembers() if mm.name in (".", "./")]
            if root:
                os.utime(xdir, (root[0].mtime, root[0].mtime))
            source_info = {"kind": src, "deb": deb, "via": tarfile}
            expected = fxlib.manifest(xdir)
        elif src.startswith("real:") or src.startswith("huge:"):
            kind = src.partition(":")[2]
            tdir, tname, targs = self.real_tree(kind) if src.startswith("real:") else self.huge_tree(kind)
            key = src
            if tool == "cfs":
                argv = ["mkcomposefs"] + opts + ["../../trees/" + tname, img]
            else:
                argv = ["mkfs.erofs"] + std + opts + [img, "../../trees/" + tname]
            for o in opts:
                if o.startswith("--blobdev="):
                    devices.append((o.split("=", 1)[1], "blob device (chunk data)"))
            source_info = {"kind": src, "tree": "trees/" + tname, "origin": targs}
            if key not in self.src_manifests:
                self.src_manifests[key] = fxlib.manifest(tdir)
            expected = self.src_manifests[key] if tool != "cfs" else None
        elif tool == "cfs":
            tdir, tname, targs = self.tree(src)
            argv = ["mkcomposefs"] + opts + ["../../trees/" + tname, img]
            source_info = {"kind": src, "tree": "trees/" + tname, "mktree": targs}
        elif src.startswith("tar:"):
            kind = src[4:]
            tdir, tname, targs = self.tree(kind)
            tarfile = name + ".tar"
            tar_argv = ["tar", "--xattrs", "--xattrs-include=*", "--acls", "--format=posix",
                        "--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime",
                        "--sort=name", "--numeric-owner", "-C", "../../trees/" + tname, "-cf", tarfile, "."]
            r = sh(tar_argv, cwd=bdir, env=dict(os.environ, LC_ALL="C"))
            if r.returncode:
                raise RuntimeError("tar failed: " + r.stderr)
            commands.append({"tool": "GNU tar 1.34 (host)", "cwd": bdir_rel, "argv": tar_argv,
                             "note": "GNU tar drops sockets ('socket ignored')"})
            argv = ["mkfs.erofs"] + std + opts + [img, tarfile]
            if any(o.startswith("--tar=i") for o in opts):
                devices.append((tarfile, "tar (data blob of the index-only image)"))
            source_info = {"kind": kind, "tree": "trees/" + tname, "mktree": targs, "via": tarfile}
            expected = [e for e in self.src_manifest(kind) if e["type"] != "socket"]
        elif src.startswith("layers:"):
            kinds = src[7:].split(",")
            layer_opts = shlex.split(m["extra"] or "-b512 -E^inline_data")
            layer_files = []
            for i, kind in enumerate(kinds, 1):
                tdir, tname, targs = self.tree(kind)
                lf = "%s.layer%d.erofs" % (name, i)
                largv = ["mkfs.erofs", "-U" + self.uuid(name + "/layer%d" % i),
                         "-T%d" % BUILD_TIME, "--mkfs-time"] + layer_opts + [lf, "../../trees/" + tname]
                rc, out, rec = self.run_tool(tool, largv, bdir_rel)
                logs.append(out)
                if rc:
                    raise RuntimeError("layer build failed: " + out)
                commands.append(rec)
                layer_files.append(lf)
                devices.append((lf, "layer %d (an EROFS image used as a data blob)" % i))
            argv = ["mkfs.erofs"] + std + opts + [img] + layer_files
            source_info = {"layers": [{"kind": k, "tree": "trees/" + self.tree(k)[1], "mktree": self.tree(k)[2]}
                                      for k in kinds]}
            expected = self.overlay([self.src_manifest(k) for k in kinds])
        else:
            kind = src
            tdir, tname, targs = self.tree(kind)
            argv = ["mkfs.erofs"] + std + opts + [img, "../../trees/" + tname]
            for o in opts:
                if o.startswith("--blobdev="):
                    devices.append((o.split("=", 1)[1], "blob device (chunk data)"))
            source_info = {"kind": kind, "tree": "trees/" + tname, "mktree": targs}
            expected = self.src_manifest(kind)

        rc, out, rec = self.run_tool(tool, argv, bdir_rel, env or None)
        argv = rec["argv"]
        logs.append(out)
        commands.append(rec)
        if rc:
            raise RuntimeError("mkfs failed (%d): %s" % (rc, out))
        for f in [img] + [d[0] for d in devices]:
            fd = os.open(os.path.join(bdir, f), os.O_RDONLY)
            os.fsync(fd)
            os.close(fd)
        if hints:
            with open(os.path.join(bdir, hints)) as f:
                commands[-1]["compress_hints_file"] = {"name": hints, "content": f.read()}
        b = dict(bdir=bdir, bdir_rel=bdir_rel, img=img, devices=devices, commands=commands,
                 mkfs_output=logs, source=source_info, expected=expected, argv=argv, env=env)
        if flat:
            self.flatten(b, name)
        return b

    @staticmethod
    def overlay(manifests):
        """Union of layers; a later layer's entry replaces an earlier one (dirs merge)."""
        merged = {}
        for man in manifests:
            for e in man:
                merged[e["path"]] = e
        return sorted(merged.values(), key=lambda e: e["path"].encode())

    def expected_rules(self, m, b, sb):
        """Adjust the source manifest for what mkfs options are documented to change."""
        rules = []
        argv, env = b["argv"], b["env"]
        exp = [dict(e) for e in b["expected"]]
        if "48bit" in sb.get("incompatible features", "").split() and m["tool"] == "1.9":
            rules.append("48bit layout (erofs-utils 1.9.4 lib/inode.c erofs_should_use_inode_extended ignores "
                         "mtime when 48bit is set): inodes that fit otherwise are compact, so mtime is stored "
                         "as a 32-bit offset from the sb epoch (here 0): it wraps modulo 2^32, and nsec is lost")
            for e in exp:
                if e["uid"] > 0xFFFF or e["gid"] > 0xFFFF or e["nlink"] > 0xFFFF or e["size"] > 0xFFFFFFFF:
                    continue
                e["mtime"], e["mtime_nsec"] = e["mtime"] % 2**32, 0
        if "force-inode-compact" in " ".join(argv):
            rules.append("-E force-inode-compact implies --ignore-mtime: every mtime = build time %d, nsec 0"
                         % BUILD_TIME)
            for e in exp:
                e["mtime"], e["mtime_nsec"] = BUILD_TIME, 0
        tval = None
        for o in argv:
            if o.startswith("-T"):
                tval = int(o[2:])
        if tval is not None and "--mkfs-time" not in argv:
            rules.append("-T%d (all-time): every mtime = %d, nsec 0" % (tval, tval))
            for e in exp:
                e["mtime"], e["mtime_nsec"] = tval, 0
        if "SOURCE_DATE_EPOCH" in env:
            ep = int(env["SOURCE_DATE_EPOCH"])
            rules.append("SOURCE_DATE_EPOCH=%d (1.5: clamp): mtimes later than it become it" % ep)
            for e in exp:
                if (e["mtime"], e["mtime_nsec"]) > (ep, 0):
                    e["mtime"], e["mtime_nsec"] = ep, 0
        src = m["source"]
        if src.startswith("tar:"):
            rules.append("tar source: GNU tar drops sockets and stores a hard-linked fifo as separate fifos")
            for e in exp:
                if e["type"] == "fifo" and e["nlink"] > 1:
                    e["nlink"] = 1
        if src.startswith("layers:"):
            rules.append("rebuild mode (erofs-utils lib/inode.c erofs_make_empty_root_inode, lib/rebuild.c): "
                         "new root dir (mode 0777, uid/gid 0, mtime = build time, no xattrs); only regular "
                         "files keep hard links; directory nlink recounted over the merged tree")
            subdirs = {}
            for e in exp:
                if e["type"] == "dir" and e["path"] != "/":
                    parent = e["path"].rsplit("/", 1)[0] or "/"
                    subdirs[parent] = subdirs.get(parent, 0) + 1
            for e in exp:
                if e["type"] == "dir":
                    e["nlink"] = 2 + subdirs.get(e["path"], 0)
                elif e["type"] != "file" and e["nlink"] > 1:
                    e["nlink"] = 1
                if e["path"] == "/":
                    e.update(mode=0o40777, perm="0777", uid=0, gid=0, mtime=BUILD_TIME, mtime_nsec=0, xattrs={})
        if m["tool"] == "1.9" and not src.startswith("tar:") and "--ovlfs-strip=1" not in argv:
            parents = set()
            for e in exp:
                if e["type"] == "chrdev" and e["rdev_major"] == 0 and e["rdev_minor"] == 0:
                    parents.add(e["path"].rsplit("/", 1)[0] or "/")
            if parents:
                rules.append("dirs holding an overlayfs whiteout (char 0:0) get trusted.overlay.origin=\"\" "
                             "(erofs-utils lib/inode.c: erofs_set_origin_xattr)")
                for e in exp:
                    if e["path"] in parents:
                        e["xattrs"] = dict(e["xattrs"], **{"trusted.overlay.origin": ""})
                        e["xattrs"] = dict(sorted(e["xattrs"].items(), key=lambda kv: kv[0].encode()))
        if "--all-root" in argv:
            rules.append("--all-root: uid = gid = 0")
            for e in exp:
                e["uid"] = e["gid"] = 0
        for o in argv:
            if o.startswith("--force-uid="):
                rules.append(o)
                for e in exp:
                    e["uid"] = int(o.split("=")[1])
            if o.startswith("--force-gid="):
                rules.append(o)
                for e in exp:
                    e["gid"] = int(o.split("=")[1])
        return exp, rules

    def image(self, m):
        name = m["name"]
        t0 = time.time()
        odir = os.path.join(self.out, name)
        if os.path.exists(odir):
            shutil.rmtree(odir)
        os.makedirs(odir)
        info = {"name": name, "description": m["desc"], "mkfs_version": None}
        try:
            b = self.build(m)
        except Exception as ex:  # record the failure; keep going
            info["build_error"] = str(ex)
            with open(os.path.join(odir, "info.json"), "w") as f:
                json.dump(info, f, indent=1, ensure_ascii=False)
            print("%-34s BUILD FAILED: %s" % (name, str(ex)[:200]))
            return info
        info["mkfs_version"] = self.versions[m["tool"]]
        info["erofs_utils_package" if m["tool"] != "cfs" else "producer_package"] = \
            self.package(m["tool"]) + " " + self.versions[m["tool"] + "-deb"]
        if "flat" in b:
            info["flat"] = b["flat"]
        info["source"] = dict(b["source"], seed=self.seed)
        info["commands"] = b["commands"]
        info["mkfs_command"] = " ".join(
            ["%s=%s" % kv for kv in b["env"].items()] + [shlex.join(b["argv"])])
        info["mkfs_output"] = "\n".join(b["mkfs_output"])[-4000:]
        # copy artefacts
        files = [b["img"]] + [d[0] for d in b["devices"]]
        for f in files:
            shutil.copyfile(os.path.join(b["bdir"], f), os.path.join(odir, f))
        ipath = os.path.join(odir, b["img"])
        info["image"] = {"file": b["img"], "size": os.path.getsize(ipath), "sha256": fxlib.sha256_file(ipath)}
        info["devices"] = [{"device_id": i + 1, "file": d[0], "role": d[1],
                            "size": os.path.getsize(os.path.join(odir, d[0])),
                            "sha256": fxlib.sha256_file(os.path.join(odir, d[0]))}
                           for i, d in enumerate(b["devices"])]
        # superblock dump (newest dump.erofs)
        dev_args = ["--device=" + d[0] for d in b["devices"]]
        r = sh(["chroot", self.chroot, "/bin/sh", "-c",
                "cd %s && dump.erofs -s -S %s %s" % (shlex.quote("/work/" + b["bdir_rel"]),
                                                  " ".join(shlex.quote(a) for a in dev_args),
                                                  shlex.quote(b["img"]))])
        with open(os.path.join(odir, "dump.txt"), "w") as f:
            f.write("$ dump.erofs -s -S %s%s\n" % ("".join(a + " " for a in dev_args), b["img"]))
            f.write(r.stdout + r.stderr)
        sb = {}
        for line in r.stdout.splitlines():
            mm = re.match(r"Filesystem (blocksize|compatible features|incompatible features|"
                          r"root nid|inode count|blocks|sb_size|UUID|"
                          r"Required upstream Linux kernel version|volume name|"
                          r"packed nid|metabox nid|extra devices|inode metadata start block|"
                          r"shared xattr metadata start block|lz4_max_distance):\s*(.*)$", line)
            if mm:
                sb[mm.group(1)] = mm.group(2).strip()
        info["superblock_dump"] = sb
        # kernel view
        mnt = tempfile.mkdtemp(prefix="erofs-fixture-mnt-")
        opts = ",".join("device=" + os.path.join(odir, d[0]) for d in b["devices"])
        kinfo = {"kernel": self.kernel, "mount": "mount(2) type=erofs flags=MS_RDONLY source=%s%s"
                 % (b["img"], (" data=" + ",".join("device=" + d[0] for d in b["devices"])) if opts else ""),
                 "equivalent_cli": "mount -t erofs -o ro%s %s /mnt" % (
                     ("," + ",".join("device=" + d[0] for d in b["devices"])) if opts else "", b["img"])}
        kman = None
        try:
            fxlib.kmount(ipath, mnt, opts)
        except OSError as ex:
            kinfo["mounted"] = False
            kinfo["error"] = str(ex)
            kinfo["dmesg"] = fxlib.dmesg_tail()
        else:
            kinfo["mounted"] = True
            try:
                kman = fxlib.manifest(mnt)
            except OSError as ex:
                kinfo["read_error"] = str(ex)
                kinfo["dmesg"] = fxlib.dmesg_tail()
            finally:
                fxlib.kumount(mnt)
        os.rmdir(mnt)
        info["kernel"] = kinfo
        if kman is not None:
            mpath = os.path.join(odir, "manifest.jsonl")
            fxlib.write_jsonl(kman, mpath)
            info["manifest"] = {"file": "manifest.jsonl", "entries": len(kman),
                                "sha256": fxlib.sha256_file(mpath)}
        if kman is not None and b["expected"] is None:
            info["crosscheck_source"] = {
                "skipped": "mkcomposefs images: the kernel view is not the source's by design (regular files "
                           "are metadata-only holes with overlay redirect/metacopy xattrs, trusted.overlay.* "
                           "names are escaped, whiteouts become escaped xattrs); manifest.jsonl is the truth"}
        elif kman is not None:
            exp, rules = self.expected_rules(m, b, sb)
            if self.write_source_manifest:
                fxlib.write_jsonl([{k: v for k, v in e.items() if k not in ("ino", "blocks")} for e in exp],
                                  os.path.join(odir, "source-manifest.jsonl"))
            n, diffs = fxlib.compare(exp, kman)
            info["crosscheck_source"] = {"rules_applied": rules, "differences": n, "first_differences": diffs,
                                         "compared": [f for f in fxlib.CONTENT_FIELDS] +
                                         ["(dirs: size not compared)"]}
        # fsck (newest) with extraction, compared with the kernel view
        xdir_rel = "extract/" + name
        xdir = os.path.join(self.work, xdir_rel)
        if os.path.exists(xdir):
            shutil.rmtree(xdir)
        os.makedirs(os.path.dirname(xdir), exist_ok=True)
        huge = kman is not None and any(e.get("size", 0) > fxlib.WHOLE_HASH_LIMIT for e in kman
                                        if e["type"] == "file")
        if huge:   # fsck.erofs --extract would write (and read) every byte of the holes
            fargv = ["fsck.erofs"] + dev_args + [b["img"]]
        else:
            fargv = ["fsck.erofs"] + dev_args + ["--extract=../../" + xdir_rel, "--xattrs", b["img"]]
        rc, out, rec = self.run_tool("1.9", fargv, b["bdir_rel"])
        finfo = {"version": self.versions["fsck"], "command": shlex.join(fargv), "rc": rc, "output": out[-3000:]}
        if rc == 0 and kman is not None and os.path.isdir(xdir):
            xman = fxlib.manifest(xdir)
            n, diffs = fxlib.compare(kman, xman, limit=10**6)
            byfield = {}
            for d in diffs:
                k = d.get("field", d.get("what"))
                byfield[k] = byfield.get(k, 0) + 1
            finfo["extract_vs_kernel"] = {"differences": n, "by_field": byfield, "first_differences": diffs[:40]}
        shutil.rmtree(xdir, ignore_errors=True)
        info["fsck"] = finfo
        info["seconds"] = round(time.time() - t0, 2)
        with open(os.path.join(odir, "info.json"), "w") as f:
            json.dump(info, f, indent=1, ensure_ascii=False)
        cs = info.get("crosscheck_source", {}).get("differences", "-")
        fx = finfo.get("extract_vs_kernel", {}).get("differences", "-")
        print("%-34s %8d  kernel=%s entries=%s src_diffs=%s fsck_rc=%s fsck_diffs=%s" % (
            name, info["image"]["size"] + sum(d["size"] for d in info["devices"]),
            "ok" if kinfo.get("mounted") else "REFUSED", len(kman) if kman else "-", cs, rc, fx), flush=True)
        return info

    def run(self):
        os.makedirs(self.out, exist_ok=True)
        try:
            for m in self.matrix:
                self.image(m)
        finally:
            for d in self.tmpfs:
                fxlib.kumount(d)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--chroot", required=True)
    ap.add_argument("--matrix", required=True)
    ap.add_argument("--seed", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--only")
    ap.add_argument("--source-manifest", action="store_true",
                    help="also write source-manifest.jsonl (the source tree after the documented mkfs rules)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("must run as root")
    g = Gen(args)
    g.run()
    # index over every image of the matrix that has been built into --out
    rows = []
    for m in Gen.parse_matrix(args.matrix):
        p = os.path.join(args.out, m["name"], "info.json")
        if not os.path.exists(p):
            continue
        with open(p) as f:
            i = json.load(f)
        rows.append({
            "name": i["name"],
            "description": i.get("description"),
            "mkfs_version": i.get("mkfs_version"),
            "source": (i.get("source") or {}).get("kind") or "layers",
            "image": i.get("image", {}).get("file"),
            "image_size": i.get("image", {}).get("size"),
            "image_sha256": i.get("image", {}).get("sha256"),
            "devices": [d["file"] for d in i.get("devices", [])],
            "total_size": i.get("image", {}).get("size", 0) + sum(d["size"] for d in i.get("devices", [])),
            "blocksize": i.get("superblock_dump", {}).get("blocksize"),
            "incompat": i.get("superblock_dump", {}).get("incompatible features"),
            "kernel_mounted": i.get("kernel", {}).get("mounted"),
            "entries": i.get("manifest", {}).get("entries"),
            "source_differences": i.get("crosscheck_source", {}).get("differences"),
            "fsck_rc": i.get("fsck", {}).get("rc"),
            "fsck_extract_differences": i.get("fsck", {}).get("extract_vs_kernel", {}).get("differences"),
            "build_error": i.get("build_error"),
        })
    idx = {"seed": args.seed, "kernel": os.uname().release, "tools": g.versions, "images": rows}
    with open(os.path.join(args.out, "index.json"), "w") as f:
        json.dump(idx, f, indent=1, ensure_ascii=False)
    total = sum(r["total_size"] for r in rows)
    print("total image bytes: %d (%.2f MiB) in %d images" % (total, total / 1048576, len(rows)))


if __name__ == "__main__":
    main()
