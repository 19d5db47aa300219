#!/usr/bin/env python3
"""Prints what matters of a `swift test` log: every failure with its details, and the run's last
lines (its summary). CI shows this instead of the whole log (about 300 KB: a line per test
started and ended, and the conformance tools' reports), which stays in the file.

Usage: scripts/lib/test-report.py LOG [LIMIT_BYTES]
A failure is a line starting with "✘" and the lines after it up to the next event line (one
starting with ◇, ✔, ✘ or ↳ Testing...). At most LIMIT_BYTES (default 60000) of failures are
printed; the rest is counted."""
import sys

EVENT_MARKS = ("◇", "✔", "✘", "􀟈", "➜", "⚠")


def main() -> int:
    if len(sys.argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    limit = int(sys.argv[2]) if len(sys.argv) == 3 else 60_000
    try:
        with open(sys.argv[1], encoding="utf-8", errors="replace") as log:
            lines = log.read().splitlines()
    except OSError as error:
        print(f"cannot read {sys.argv[1]}: {error}", file=sys.stderr)
        return 2
    failures: list[str] = []
    inside = False
    for line in lines:
        if line.startswith("✘"):
            inside = True
            failures.append(line)
        elif line.startswith(EVENT_MARKS):
            inside = False
        elif inside:
            failures.append(line)
    printed = 0
    for number, line in enumerate(failures):
        if printed + len(line) + 1 > limit:
            print(f"... {len(failures) - number} more lines of failures in {sys.argv[1]}")
            break
        print(line)
        printed += len(line.encode()) + 1
    tests = sum(
        1
        for line in lines
        if line.startswith(("✔ Test ", "✘ Test ")) and " after " in line and "Test run with" not in line
    )
    print(f"({len(lines)} lines, {tests} test results; the whole log: {sys.argv[1]})")
    for line in lines[-3:]:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
