"""Inside the sandbox's new namespaces, before the untrusted program starts: make every mount read-only
except the working directory, drop every capability for good, set the rlimits, then exec the program.

Run as a script (``python -I jail.py WORKDIR AS_BYTES CPU_S FSIZE_BYTES ISOLATE -- PROGRAM``) by
codecorpus.instruct.sandbox, under ``unshare --net --mount --pid``. Standard library only.
"""
import ctypes
import os
import resource
import sys

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
LOCKED_FLAGS = {"nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC}
PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 24, 38

libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def mount(source, target: str, flags: int) -> None:
    _check(libc.mount(source and source.encode(), target.encode(), None, ctypes.c_ulong(flags), None),
           f"mount {target}")


def read_only_except(workdir: str) -> None:
    mount(None, "/", MS_REC | MS_PRIVATE)           # nothing we do here reaches the host
    mount(workdir, workdir, MS_BIND)                # the working directory becomes its own mount
    with open("/proc/self/mountinfo") as fh:
        entries = [line.split() for line in fh]
    for fields in entries:
        target = fields[4].replace("\\040", " ")
        if target == workdir:
            continue
        flags = MS_REMOUNT | MS_BIND | MS_RDONLY
        for option in fields[5].split(","):          # keep flags the kernel locks
            flags |= LOCKED_FLAGS.get(option, 0)
        mount(None, target, flags)


def drop_capabilities() -> None:
    """Empty the bounding set, so the exec'd program (uid 0 in its namespace) holds no capability and
    cannot undo the read-only mounts; no_new_privs forbids regaining any through set-uid files."""
    cap = 0
    while libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0:
        cap += 1
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


def main(argv: list[str]) -> None:
    workdir, as_bytes, cpu_s, fsize, isolate = argv[1], int(argv[2]), int(argv[3]), int(argv[4]), argv[5] == "1"
    program = argv[argv.index("--") + 1:]
    if isolate:
        read_only_except(workdir)
        drop_capabilities()
    resource.setrlimit(resource.RLIMIT_AS, (as_bytes, as_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.chdir(workdir)
    os.execv(sys.executable, [sys.executable, "-I", *program])


if __name__ == "__main__":
    main(sys.argv)
