#!/usr/bin/env python3
#
# tests/bench/fuse_requests.py - which FUSE requests the kernel sends to
# pmxcfs for one small-file operation.  Used by fuse-requests.sh:
#
#   fuse_requests.py client DIR      run the scenarios in DIR (on the mount),
#                                    each measured operation between two
#                                    marker LOOKUPs (stat of ROOT/.mark-*)
#   fuse_requests.py parse FILE      read an `strace -f -xx -s 96 -y` log of
#                                    the daemon and print, per scenario, the
#                                    requests read from /dev/fuse between its
#                                    markers, plus the kernel notifications
#                                    the daemon wrote there
#
# The operations use the same syscalls as bench_smallfile (os.open/os.read/
# os.write/os.close are plain syscalls): open + read to EOF + close, open
# O_WRONLY|O_TRUNC + write 512 + close, etc.  Background requests (RELEASE
# is sent asynchronously) are given 100 ms to arrive before the end marker.

import os
import re
import struct
import sys
import time

SIZE = 512

OPCODES = {
    1: "LOOKUP", 2: "FORGET", 3: "GETATTR", 4: "SETATTR", 5: "READLINK",
    6: "SYMLINK", 8: "MKNOD", 9: "MKDIR", 10: "UNLINK", 11: "RMDIR",
    12: "RENAME", 13: "LINK", 14: "OPEN", 15: "READ", 16: "WRITE",
    17: "STATFS", 18: "RELEASE", 20: "FSYNC", 21: "SETXATTR", 22: "GETXATTR",
    23: "LISTXATTR", 24: "REMOVEXATTR", 25: "FLUSH", 26: "INIT", 27: "OPENDIR",
    28: "READDIR", 29: "RELEASEDIR", 30: "FSYNCDIR", 31: "GETLK", 32: "SETLK",
    33: "SETLKW", 34: "ACCESS", 35: "CREATE", 36: "INTERRUPT", 37: "BMAP",
    38: "DESTROY", 39: "IOCTL", 40: "POLL", 41: "NOTIFY_REPLY",
    42: "BATCH_FORGET", 43: "FALLOCATE", 44: "READDIRPLUS", 45: "RENAME2",
    46: "LSEEK", 47: "COPY_FILE_RANGE", 50: "SYNCFS", 51: "TMPFILE", 52: "STATX",
}
NOTIFY = {1: "POLL", 2: "INVAL_INODE", 3: "INVAL_ENTRY", 4: "STORE",
          5: "RETRIEVE", 6: "DELETE", 7: "RESEND"}

# (name, description)
SCENARIOS = [
    ("read.warm", "open+read+close of an unchanged file read 0.1 s before"),
    ("read.idle", "the same after 1.5 s idle (entry/attr timeouts expired)"),
    ("read.changed", "first open+read+close after an overwrite"),
    ("overwrite", "open(O_WRONLY|O_TRUNC)+write 512+close, file read 0.1 s before"),
    ("overwrite.again", "the same right after an overwrite of the same file"),
    ("create", "open(O_CREAT|O_EXCL|O_WRONLY)+write 512+close of a new file"),
    ("rename", "rename(new, new2) in the same directory"),
    ("unlink", "unlink(new2)"),
]


def content(gen):
    head = ("gen %d\n" % gen).encode()
    return (head + b"x" * SIZE)[:SIZE - 1] + b"\n"


def write_file(path, flags, data):
    fd = os.open(path, flags, 0o640)
    try:
        n = os.write(fd, data)
        if n != len(data):
            raise SystemExit("short write to %s" % path)
    finally:
        os.close(fd)


def read_file(path, want):
    fd = os.open(path, os.O_RDONLY)
    got = b""
    try:
        while True:
            b = os.read(fd, SIZE + 1)
            if not b:
                break
            got += b
    finally:
        os.close(fd)
    if got != want:
        raise SystemExit("read %s: wrong content (%d bytes)" % (path, len(got)))


def client(root):
    d = os.path.join(root, "req")
    os.mkdir(d)
    f = os.path.join(d, "f")
    new = os.path.join(d, "new")
    new2 = os.path.join(d, "new2")
    gen = 0
    write_file(f, os.O_CREAT | os.O_EXCL | os.O_WRONLY, content(gen))
    read_file(f, content(gen))

    def mark(tag):
        try:
            os.stat(os.path.join(root, ".mark-" + tag))
        except FileNotFoundError:
            return
        raise SystemExit("marker %s exists" % tag)

    def overwrite():
        nonlocal gen
        gen += 1
        write_file(f, os.O_WRONLY | os.O_TRUNC, content(gen))

    steps = {
        "read.warm": (lambda: (read_file(f, content(gen)), time.sleep(0.1)),
                      lambda: read_file(f, content(gen))),
        "read.idle": (lambda: (read_file(f, content(gen)), time.sleep(1.5)),
                      lambda: read_file(f, content(gen))),
        "read.changed": (lambda: (overwrite(), time.sleep(0.1)),
                         lambda: read_file(f, content(gen))),
        "overwrite": (lambda: (read_file(f, content(gen)), time.sleep(0.1)), overwrite),
        "overwrite.again": (lambda: (overwrite(), time.sleep(0.1)), overwrite),
        "create": (lambda: time.sleep(0.1),
                   lambda: write_file(new, os.O_CREAT | os.O_EXCL | os.O_WRONLY, content(0))),
        "rename": (lambda: time.sleep(0.1), lambda: os.rename(new, new2)),
        "unlink": (lambda: time.sleep(0.1), lambda: os.unlink(new2)),
    }
    for name, _ in SCENARIOS:
        pre, op = steps[name]
        pre()
        mark("begin-" + name)
        op()
        time.sleep(0.1)  # let background requests (RELEASE) arrive
        mark("end-" + name)
    read_file(f, content(gen))
    os.unlink(f)
    os.rmdir(d)


# read(7</dev/fuse>, "\x..."..., 1052672) = 56
READ_RE = re.compile(r'^(\d+)\s+(?:<\.\.\. read resumed>|read\(\d+</dev/fuse>,)\s*'
                     r'"((?:\\x[0-9a-f]{2})*)"')
# writev(7</dev/fuse>, [{iov_base="\x...", iov_len=16}, ...
WRITEV_RE = re.compile(r'^(\d+)\s+(?:<\.\.\. writev resumed>|writev\(\d+</dev/fuse>,)\s*'
                       r'\[\{iov_base="((?:\\x[0-9a-f]{2})*)"')
DEV_FUSE_HEX = "".join("\\x%02x" % c for c in b"/dev/fuse")
RESULT_RE = re.compile(r'= (-?\d+)')


def unhex(s):
    return bytes(int(h, 16) for h in s.split("\\x")[1:])


def parse(path):
    # requests are attributed to the scenario whose markers enclose them
    current = None
    per = {name: [] for name, _ in SCENARIOS}
    notes = {name: [] for name, _ in SCENARIOS}
    with open(path, errors="replace") as fh:
        for line in fh:
            # -xx escapes the fd's path too
            line = line.rstrip("\n").replace(DEV_FUSE_HEX, "/dev/fuse")
            # "read(N</dev/fuse>,  <unfinished ...>" lines match neither
            # pattern: the buffer comes with the "<... read resumed>" line
            rm = READ_RE.match(line)
            if rm:
                res = RESULT_RE.search(line[line.rfind(")"):])
                if not res or int(res.group(1)) < 40:
                    continue
                buf = unhex(rm.group(2))
                if len(buf) < 40:
                    continue
                _ln, opcode, _unique, nodeid = struct.unpack_from("<IIQQ", buf, 0)
                name = OPCODES.get(opcode, "OP%d" % opcode)
                arg = buf[40:]
                if opcode == 1:  # LOOKUP: the name follows the header
                    lname = arg.split(b"\0", 1)[0].decode(errors="replace")
                    if lname.startswith(".mark-"):
                        tag = lname[len(".mark-"):]
                        if tag.startswith("begin-"):
                            current = tag[len("begin-"):]
                        elif tag.startswith("end-"):
                            current = None
                        continue
                    name += "(%s)" % lname
                if current in per:
                    per[current].append(name)
                continue
            wm = WRITEV_RE.match(line)
            if wm and current in notes:
                buf = unhex(wm.group(2))
                if len(buf) >= 16:
                    _ln, error, unique = struct.unpack_from("<IiQ", buf, 0)
                    if unique == 0:
                        notes[current].append("NOTIFY_" + NOTIFY.get(error, str(error)))
    ok = True
    for name, desc in SCENARIOS:
        reqs = per[name]
        print("%-16s %2d requests: %s" % (name, len(reqs), " ".join(reqs) or "-"))
        if notes[name]:
            print("%-16s    + daemon -> kernel: %s" % ("", " ".join(notes[name])))
        print("%-16s    (%s)" % ("", desc))
        if not reqs and name != "read.warm":
            ok = False
    if not ok:
        print("warning: a scenario saw no requests at all (strace log incomplete?)",
              file=sys.stderr)


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("client", "parse"):
        print("usage: fuse_requests.py client DIR | parse STRACE_LOG", file=sys.stderr)
        sys.exit(2)
    if sys.argv[1] == "client":
        client(sys.argv[2])
    else:
        parse(sys.argv[2])


if __name__ == "__main__":
    main()
