#!/usr/bin/env python3
"""Reads a test run's .trx (dotnet test --logger trx) and holds it to the project's rule for skips.

    check_trx.py RESULTS.trx [--require-skipped NAME ...]

Fails (exit 1) when a test failed, when a skipped test gives no reason, or when a test whose name contains one of the
NAMEs ran, or none did (the run was meant to lack what those tests need). Prints every skip with its reason.
"""
import sys
import xml.etree.ElementTree as ET

NS = "{http://microsoft.com/schemas/VisualStudio/TeamTest/2010}"


def main(argv):
    path, required = argv[1], []
    if len(argv) > 2:
        if argv[2] != "--require-skipped":
            sys.exit(f"check_trx: unknown option {argv[2]}")
        required = argv[3:]
    results = list(ET.parse(path).getroot().iter(NS + "UnitTestResult"))
    problems, skipped = [], []
    for r in results:
        name, outcome = r.get("testName"), r.get("outcome")
        if outcome == "Failed":
            problems.append(f"failed: {name}")
        elif outcome == "NotExecuted":
            message = r.find(f"{NS}Output/{NS}ErrorInfo/{NS}Message")
            reason = (message.text or "").strip() if message is not None else ""
            skipped.append((name, reason))
            if not reason:
                problems.append(f"skipped without a reason: {name}")
    for name, reason in skipped:
        print(f"skipped: {name}: {reason}")
    for want in required:
        matching = [r for r in results if want in r.get("testName")]
        if not matching:
            problems.append(f"no test matches '{want}': filtered out, but it must be seen to skip")
        problems += [f"ran where it should have been skipped: {r.get('testName')} ({r.get('outcome')})"
                     for r in matching if r.get("outcome") != "NotExecuted"]
    for p in problems:
        print(f"check_trx: {p}", file=sys.stderr)
    print(f"check_trx: {len(results)} tests, {len(skipped)} skipped, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
