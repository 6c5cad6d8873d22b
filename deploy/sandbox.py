"""Runs a command under the system-call limits deploy/masthead.service asks of
systemd, so deploy/check.sh can show the binary lives with them:

- MemoryDenyWriteExecute=yes: prctl(PR_SET_MDWE), which execve keeps;
- SystemCallFilter=@system-service and ~@privileged: a seccomp allow-list
  built from `systemd-analyze syscall-filter` on this machine, less the
  @privileged set. Stricter than the unit: a call outside the list kills the
  process (the unit answers EPERM), so a missing call cannot go unnoticed;
- RestrictAddressFamilies=: socket() only for the families named (others get
  EAFNOSUPPORT, as under systemd).

Started as root, it first becomes --user (the unit's User=): as root, SQLite
would also hand its journal files to the database's owner (fchown), which
@privileged refuses and a service user never tries.

Usage: sandbox.py [--user NAME] --families AF_UNIX,AF_INET,AF_INET6 -- COMMAND [ARG...]
Needs Debian's python3-seccomp (run it with /usr/bin/python3).
"""

import argparse
import ctypes
import errno
import mmap
import os
import pwd
import socket
import subprocess
import sys

import seccomp

PR_SET_MDWE = 65
PR_MDWE_REFUSE_EXEC_GAIN = 1


def syscall_groups():
    """Each @group of `systemd-analyze syscall-filter`, with its members."""
    out = subprocess.run(
        ["systemd-analyze", "syscall-filter"], capture_output=True, text=True, check=True
    ).stdout
    groups, current = {}, None
    for line in out.splitlines():
        if line.startswith("@"):
            current = groups.setdefault(line.strip(), [])
        elif current is not None and line.strip() and not line.strip().startswith("#"):
            current.append(line.strip())
    return groups


def expand(name, groups, seen=None):
    seen = set() if seen is None else seen
    if not name.startswith("@"):
        return {name}
    if name in seen:
        return set()
    seen.add(name)
    if name not in groups:
        raise SystemExit(f"systemd-analyze does not know {name}")
    calls = set()
    for member in groups[name]:
        calls |= expand(member, groups, seen)
    return calls


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--user")
    ap.add_argument("--families", required=True)
    ap.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        ap.error("no command")
    families = {getattr(socket, f) for f in args.families.split(",")}

    if args.user and os.getuid() == 0:
        user = pwd.getpwnam(args.user)
        os.setgroups([])
        os.setgid(user.pw_gid)
        os.setuid(user.pw_uid)

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
        raise SystemExit(f"PR_SET_MDWE failed (errno {ctypes.get_errno()}): kernel older than 6.3?")
    try:
        mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
        raise SystemExit("memory-deny-write-execute is not in force")
    except PermissionError:
        pass

    groups = syscall_groups()
    allowed = expand("@system-service", groups) - expand("@privileged", groups)
    f = seccomp.SyscallFilter(defaction=seccomp.KILL_PROCESS)
    known = 0
    for call in sorted(allowed - {"socket"}):
        try:
            f.add_rule(seccomp.ALLOW, call)
            known += 1
        except (RuntimeError, ValueError, OSError):
            pass  # not a system call on this architecture
    for fam in range(64):
        action = seccomp.ALLOW if fam in families else seccomp.ERRNO(errno.EAFNOSUPPORT)
        f.add_rule(action, "socket", seccomp.Arg(0, seccomp.EQ, fam))
    f.add_rule(seccomp.ERRNO(errno.EAFNOSUPPORT), "socket", seccomp.Arg(0, seccomp.GE, 64))
    if known < 200:
        raise SystemExit(f"only {known} system calls resolved: is systemd-analyze's list empty?")
    f.load()
    os.execvp(command[0], command)


if __name__ == "__main__":
    main()
