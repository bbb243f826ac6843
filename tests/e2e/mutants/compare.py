#!/usr/bin/env python3
"""Classifies the kernel's and erofsfs's views of the same mutants (record.hpp), per path:

  agree            both return the same thing, or both return an error
  erofsfs stricter erofsfs returns a named error where the kernel returns bytes
  kernel stricter  the kernel returns an error where erofsfs returns bytes
  DIFFERENT        both return bytes and they differ: the failing class

A path has three aspects (metadata, data, xattrs); the path takes the worst of them (DIFFERENT,
then kernel stricter, then erofsfs stricter). A path only one side lists is stricter on the
other side when that side failed to list its directory, else DIFFERENT. Images whose pristine
copy does not agree (a feature the guest kernel lacks) are left out, and said so.

Usage: compare.py JOBS GUEST_OUT HOST_OUT [--details N]
Exit status 1 if any path is DIFFERENT, 2 on a malformed stream.
"""
import collections
import re
import sys

CLASSES = ("agree", "erofsfs stricter", "kernel stricter", "DIFFERENT", "metadata differs")
# Severity order for a path's worst aspect: DIFFERENT (bytes) > metadata differs > the rest.
RANK = {0: 0, 1: 1, 2: 2, 4: 3, 3: 4}


def parse(path):
    """{mutant id: (status, {path: (meta, data, xattrs)}, [kmsg lines])}"""
    out, cur, recs, kmsg = {}, None, None, None
    with open(path, "rb") as f:
        for raw in f.read().split(b"\n"):
            line = raw.decode("utf-8", "surrogateescape")
            if line.startswith("BEGIN "):
                cur, recs, kmsg = line[6:], {}, []
            elif line.startswith("END "):
                _, mid, status = line.split(" ", 2)
                if mid != cur:
                    sys.exit(f"compare: {path}: END {mid} inside BEGIN {cur}")
                out[cur] = (status, recs, kmsg)
                cur = None
            elif line.startswith("KMSG ") and cur is not None:
                kmsg.append(line[5:])
            elif line.startswith("HANG ") :
                mid = line[5:]
                out[mid] = ("guest hang", {}, [])
            elif line == "DONE" or line == "":
                continue
            elif cur is not None:
                f4 = line.split("\t")
                if len(f4) != 4:
                    sys.exit(f"compare: {path}: bad record in {cur}: {line!r}")
                recs[f4[0]] = tuple(f4[1:])
    return out


def is_err(v):
    return v.startswith("E")


def parent(p):
    return "/" if p.count("/") == 1 else p.rsplit("/", 1)[0]


def classify_aspect(k, e):
    if is_err(k) and is_err(e):
        return 0
    if is_err(k):
        return 2
    if is_err(e):
        return 1
    return 0 if k == e else 3


def without_blocks(meta):
    """The metadata without st_blocks: Linux 6.12 counts the blocks of compressed files
    (fragments, inline pclusters) differently from the 6.18 the library follows."""
    return meta if is_err(meta) else re.sub(r" b=\d+$", "", meta)


def classify(krecs, erecs, ignore_blocks=False):
    """{path: class index} for one mutant."""
    out = {}
    for p in set(krecs) | set(erecs):
        k, e = krecs.get(p), erecs.get(p)
        if k is not None and e is not None:
            if ignore_blocks:
                k = (without_blocks(k[0]),) + k[1:]
                e = (without_blocks(e[0]),) + e[1:]
            # stat fields that differ are reported as "metadata differs" (a finding that does
            # not fail the run); differing file data, targets, listings or xattrs fail it.
            cls = [classify_aspect(a, b) for a, b in zip(k, e)]
            if cls[0] == 3:
                cls[0] = 4
            out[p] = max(cls, key=RANK.get)
            continue
        # Listed by one side only: fine if the other could not list the parent directory.
        other = erecs if e is None else krecs
        par = other.get(parent(p))
        missing_side_failed = par is None or is_err(par[1]) or p == "/"
        if missing_side_failed:
            out[p] = 1 if e is None else 2
        else:
            out[p] = 3
    return out


def main():
    args = sys.argv[1:]
    details = 10
    if "--details" in args:
        i = args.index("--details")
        details = int(args[i + 1])
        del args[i:i + 2]
    jobs_file, guest_file, host_file = args
    jobs = []
    with open(jobs_file, encoding="utf-8", errors="surrogateescape") as f:
        for l in f:
            mid, image, _, patches, what = l.rstrip("\n").split("\t")
            jobs.append((mid, image, patches, what))
    guest, host = parse(guest_file), parse(host_file)

    # The baseline: pristine images the guest kernel reads exactly as erofsfs does (maybe but
    # for st_blocks; then st_blocks is left out of that image's mutants too).
    usable, left_out, blocks_ignored = set(), [], set()
    for mid, image, patches, _ in jobs:
        if patches != "-":
            continue
        g, h = guest.get(mid), host.get(mid)
        if g is None or h is None or g[0] != "ok":
            left_out.append((image, "no guest result" if g is None else g[0]))
            continue
        c = classify(g[1], h[1])
        bad = [p for p, v in c.items() if v != 0]
        if bad and not any(classify(g[1], h[1], True).values()):
            blocks_ignored.add(image)
            usable.add(image)
        elif bad:
            p = sorted(bad)[0]
            root = g[1].get("/")
            if root and is_err(root[0]):
                left_out.append((image, f"the guest kernel does not mount the pristine image ({root[0]})"))
                continue
            why = f"{len(bad)} paths differ, e.g. {p}: kernel {g[1].get(p)} erofsfs {h[1].get(p)}"
            left_out.append((image, why))
        else:
            usable.add(image)

    per_path = collections.Counter()
    per_mutant = collections.Counter()
    by_kind = collections.defaultdict(collections.Counter)
    findings, faults, hangs = [], [], []
    for mid, image, patches, what in jobs:
        if patches == "-" or image not in usable:
            continue
        g, h = guest.get(mid), host.get(mid)
        if g is None:
            hangs.append((mid, "no result (guest run ended early)"))
            continue
        if g[2]:
            faults.append((mid, what, g[2][:3]))
        if g[0] != "ok":
            hangs.append((mid, g[0]))
            continue
        c = classify(g[1], h[1], image in blocks_ignored)
        counts = collections.Counter(c.values())
        for k, v in counts.items():
            per_path[CLASSES[k]] += v
        worst = max(c.values(), key=RANK.get) if c else 0
        per_mutant[CLASSES[worst]] += 1
        by_kind[what.split("+")[0]][CLASSES[worst]] += 1
        if worst in (3, 4):
            for p in sorted(q for q, v in c.items() if v == worst)[:3]:
                findings.append((CLASSES[worst].upper(), mid, what, p, g[1].get(p), h[1].get(p)))

    print(f"mutants: {len(jobs) - sum(1 for j in jobs if j[2] == '-')} generated, "
          f"{sum(per_mutant.values())} compared over {len(usable)} images")
    for image, why in left_out:
        print(f"  left out {image}: {why}")
    if blocks_ignored:
        print(f"  st_blocks not compared (6.12 counts them differently) for {len(blocks_ignored)} "
              f"images: {' '.join(sorted(i.split('/')[0] for i in blocks_ignored))}")
    print("per path:   " + ", ".join(f"{c}: {per_path[c]}" for c in CLASSES))
    print("per mutant: " + ", ".join(f"{c}: {per_mutant[c]}" for c in CLASSES) +
          "   (a mutant counts as its worst path)")
    for kind in sorted(by_kind):
        print(f"  {kind:10} " + ", ".join(f"{c}: {by_kind[kind][c]}" for c in CLASSES))
    for mid, why in hangs:
        print(f"GUEST {why.upper()}: {mid}")
    for mid, what, lines in faults:
        print(f"KERNEL FAULT in {mid} ({what}): " + " | ".join(lines))
    findings.sort(key=lambda f: f[0] != "DIFFERENT")
    for cls, mid, what, p, k, e in findings[:details]:
        print(f"{cls} {mid} ({what}) {p}\n  kernel:  {k}\n  erofsfs: {e}")
    if len(findings) > details:
        print(f"... {len(findings) - details} more")
    return 1 if per_mutant["DIFFERENT"] else 0


if __name__ == "__main__":
    sys.exit(main())
