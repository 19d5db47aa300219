#!/usr/bin/env python3
"""Reads a Swift Testing event stream (`swift test --event-stream-output-path FILE
--event-stream-version 0`) and prints every test that started but did not end, with
when it started (seconds into the run): after a run that hung, these are the ones to look at.

Usage: scripts/lib/unfinished-tests.py EVENTS.jsonl
Exit 0 when it printed a list (possibly empty), 2 when the file cannot be read."""
import json
import sys


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    started: dict[str, float] = {}
    first = None
    try:
        with open(sys.argv[1], encoding="utf-8") as stream:
            for number, line in enumerate(stream, 1):
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    # The last line of a killed run may be cut short.
                    print(f"{sys.argv[1]}:{number}: not JSON (cut short?)", file=sys.stderr)
                    continue
                if record.get("kind") != "event":
                    continue
                payload = record.get("payload", {})
                when = payload.get("instant", {}).get("absolute", 0.0)
                first = when if first is None else min(first, when)
                test = payload.get("testID")
                if test is None:
                    continue
                if payload.get("kind") == "testStarted":
                    started[test] = when
                elif payload.get("kind") in ("testEnded", "testSkipped"):
                    started.pop(test, None)
    except OSError as error:
        print(f"cannot read {sys.argv[1]}: {error}", file=sys.stderr)
        return 2
    # Test functions ("Module.Suite/name()/File.swift:line:column"); suites only when no function
    # is left (a suite ends after its tests, so it would only repeat them).
    functions = {test: when for test, when in started.items() if "/" in test}
    left = functions or started
    if not left:
        print("  (no test was left running: every test that started ended)")
    for test, when in sorted(left.items(), key=lambda item: item[1]):
        print(f"  {test}  (started {when - first:.1f} s into the run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
