#!/usr/bin/env python3
"""Stops what a test run left running, and names it.

A process is the run's when its environment carries TEST_RUN_MARK_TENURE=<mark> (everything the run
started inherits it), or when it carries no such mark at all (rotation programs run with a clean
environment), is an orphan (reparented to PID 1: what started it has ended) and runs from a
test's temporary directory (<tmp>/tenure-... in its command line). Another run's processes carry
another mark: they are left alone. Each is sent SIGTERM, then SIGKILL after 5 s.
A server a test leaves behind would otherwise live on after the run — and keep open whatever
it inherited.

Usage: scripts/lib/stop-leftovers.py MARK TMPDIR
Prints one line per process stopped; exit 0 whether or not there were any."""
import os
import signal
import sys
import time


def leftovers(mark: bytes, tmp_prefix: bytes) -> dict[int, str]:
    mine = {os.getpid(), os.getppid()}
    found: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in mine:
            continue
        pid = int(entry)
        try:
            with open(f"/proc/{pid}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[-1].split()
            if fields[0] == b"Z":
                continue  # ended, only not reaped
            orphan = fields[1] == b"1"
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                command = cmdline.read()
            with open(f"/proc/{pid}/environ", "rb") as environ:
                environment = environ.read().split(b"\0")
        except (OSError, IndexError):
            continue
        unmarked = not any(variable.startswith(b"TEST_RUN_MARK_TENURE=") for variable in environment)
        if mark in environment or (unmarked and orphan and tmp_prefix in command):
            # The program only: its arguments may carry a test's token.
            found[pid] = command.split(b"\0", 1)[0].decode(errors="replace")[:200]
    return found


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    mark = b"TEST_RUN_MARK_TENURE=" + sys.argv[1].encode()
    tmp_prefix = os.path.join(sys.argv[2], "tenure-").encode()
    found = leftovers(mark, tmp_prefix)
    if not found:
        return 0
    print(f"test.sh: the tests left {len(found)} process(es) running; stopping them:", file=sys.stderr)
    for pid, command in sorted(found.items()):
        print(f"  {pid}  {command}", file=sys.stderr)
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and leftovers(mark, tmp_prefix):
        time.sleep(0.1)
    for pid in leftovers(mark, tmp_prefix):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
