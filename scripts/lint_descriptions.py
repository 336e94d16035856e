#!/usr/bin/env python3
"""Lint the tool definitions the model reads with the Tool Definition Quality Score linter
(`tdqs lint`, no model needed): no errors and no warnings, but one kind.

`shadow-candidate` is the linter's deterministic prefilter for tools an agent might confuse: it
pairs any tool whose arguments take work (a list of posts) with a cheap sibling, and says itself
that only its model-based coherence evaluation can confirm a pair. Those are listed, not failed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

PROBES_ONLY = {"shadow-candidate"}


def main() -> int:
    env = {**os.environ, "OPENTWEET_API_KEY": os.environ.get("OPENTWEET_API_KEY") or "lint"}
    tools = subprocess.run(
        [sys.executable, "-m", "opentweet_mcp", "tools", "--json"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    with tempfile.TemporaryDirectory() as tmp:
        listing = Path(tmp) / "tools.json"
        listing.write_text(tools, encoding="utf-8")
        lint = subprocess.run(
            ["tdqs", "lint", "--file", str(listing), "--format", "json", "--fail-on", "never"],
            check=True,
            capture_output=True,
            text=True,
        )
    # the report lists a finding per tool and again in its summary: each once
    unique = {
        (f.get("tool"), f["rule"], f["message"]): f for f in _findings(json.loads(lint.stdout))
    }
    findings = list(unique.values())
    failing = [f for f in findings if f["severity"] in ("error", "warning")]
    failing = [f for f in failing if f["rule"] not in PROBES_ONLY]
    probes = {f["message"] for f in findings if f["rule"] in PROBES_ONLY}
    notes = sum(1 for f in findings if f["severity"] not in ("error", "warning"))
    for message in sorted(probes):
        print(f"to confirm by a coherence evaluation: {message.split(':')[0]}")
    for finding in failing:
        print(f"{finding['severity']} {finding['rule']}: {finding['message']}")
    print(f"tdqs lint: {len(failing)} errors or warnings, {len(probes)} to confirm, {notes} notes")
    return 1 if failing else 0


def _findings(report: object) -> list[dict[str, str]]:
    """Every finding (a dict with rule, severity and message), wherever the report nests it."""
    found: list[dict[str, str]] = []
    if isinstance(report, dict):
        if {"rule", "severity", "message"} <= report.keys():
            found.append(report)
        for value in report.values():
            found += _findings(value)
    elif isinstance(report, list):
        for value in report:
            found += _findings(value)
    return found


if __name__ == "__main__":
    raise SystemExit(main())
