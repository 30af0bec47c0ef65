"""Findings for people (grouped by area, with symbols) and for machines (JSON)."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Sequence
from typing import Any

from devenv.doctor.core import FAIL, GROUPS, OK, SKIP, WARN, Finding

SYMBOLS = {OK: "✓", WARN: "!", FAIL: "✗", SKIP: "-"}
ASCII = {OK: "ok", WARN: "!!", FAIL: "XX", SKIP: "--"}


def summary(findings: Sequence[Finding], elapsed: float) -> dict[str, Any]:
    c = Counter(f.status for f in findings)
    return {
        "checks": len(findings),
        OK: c.get(OK, 0),
        WARN: c.get(WARN, 0),
        FAIL: c.get(FAIL, 0),
        SKIP: c.get(SKIP, 0),
        "seconds": round(elapsed, 3),
        "healthy": c.get(FAIL, 0) == 0,
    }


def _symbols() -> dict[str, str]:
    enc = (getattr(sys.stdout, "encoding", None) or "").lower()
    return SYMBOLS if "utf" in enc else ASCII


def text(findings: Sequence[Finding], elapsed: float) -> str:
    sym = _symbols()
    width = max([10, *(len(f.id) for f in findings)])
    order = {g: i for i, g in enumerate(GROUPS)}
    groups: dict[str, list[Finding]] = {}
    for f in sorted(findings, key=lambda f: order.get(f.group, len(order))):
        groups.setdefault(f.group, []).append(f)
    lines: list[str] = []
    for group, items in groups.items():
        lines.append(group)
        for f in items:
            lines.append(f"  {sym[f.status]} {f.id:<{width}}  {f.summary}")
            if f.status in (WARN, FAIL):
                for d in f.detail.splitlines() if f.detail else ():
                    lines.append(f"      {d}")
                if f.fix:
                    lines.append(f"      fix: {f.fix}")
            elif f.status == SKIP and f.fix:
                lines.append(f"      then: {f.fix}")
    s = summary(findings, elapsed)
    lines.append(
        f"{s['checks']} checks: {s[OK]} ok, {s[WARN]} warn, {s[FAIL]} fail, {s[SKIP]} skipped"
        f" in {elapsed:.2f} s"
    )
    return "\n".join(lines)


def as_json(findings: Sequence[Finding], elapsed: float) -> str:
    return json.dumps(
        {"summary": summary(findings, elapsed), "findings": [f.as_dict() for f in findings]},
        indent=2,
    )
