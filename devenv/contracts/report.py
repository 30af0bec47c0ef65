"""Outcomes rendered: a table for people, JSON and JUnit XML for CI."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from devenv.contracts.core import FAIL, PASS, SKIP, Outcome

SYMBOL = {PASS: "ok", FAIL: "FAIL", SKIP: "skip"}


def summary(outcomes: Sequence[Outcome], elapsed: float) -> dict[str, Any]:
    counts = Counter(o.status for o in outcomes)
    return {
        "passed": counts.get(PASS, 0),
        "failed": counts.get(FAIL, 0),
        "skipped": counts.get(SKIP, 0),
        "seconds": round(elapsed, 3),
        "ok": counts.get(FAIL, 0) == 0,
    }


def table(outcomes: Sequence[Outcome], elapsed: float, label: str = "") -> str:
    """service, check, result, time; each failure's or skip's reason on the line below."""
    w_svc = max([7, *(len(o.service) for o in outcomes)])
    w_chk = max([5, *(len(o.check) for o in outcomes)])
    lines = [f"{'SERVICE':<{w_svc}}  {'CHECK':<{w_chk}}  {'RESULT':<6}  TIME"]
    for o in outcomes:
        lines.append(
            f"{o.service:<{w_svc}}  {o.check:<{w_chk}}  {SYMBOL[o.status]:<6}"
            f"  {o.seconds * 1000:6.0f} ms"
        )
        if o.status != PASS and o.message:
            lines.append(f"{'':<{w_svc}}    {o.message}")
    s = summary(outcomes, elapsed)
    where = f" against {label}" if label else ""
    lines.append(
        f"{s['passed']} passed, {s['failed']} failed, {s['skipped']} skipped"
        f" in {elapsed:.2f} s{where}"
    )
    return "\n".join(lines)


def as_json(outcomes: Sequence[Outcome], elapsed: float, label: str = "") -> str:
    return json.dumps(
        {
            "target": label,
            "summary": summary(outcomes, elapsed),
            "checks": [o.as_dict() for o in outcomes],
        },
        indent=2,
    )


def junit(outcomes: Sequence[Outcome], elapsed: float) -> str:
    """JUnit XML: one testsuite per service, one testcase per check (classname devenv.SERVICE)."""
    root = ET.Element("testsuites", name="devenv contracts", time=f"{elapsed:.3f}")
    by_service: dict[str, list[Outcome]] = {}
    for o in outcomes:
        by_service.setdefault(o.service, []).append(o)
    for service, items in by_service.items():
        counts = Counter(o.status for o in items)
        suite = ET.SubElement(
            root,
            "testsuite",
            name=service,
            tests=str(len(items)),
            failures=str(counts.get(FAIL, 0)),
            errors="0",
            skipped=str(counts.get(SKIP, 0)),
            time=f"{sum(o.seconds for o in items):.3f}",
        )
        for o in items:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"devenv.contracts.{service}",
                name=o.check,
                time=f"{o.seconds:.3f}",
            )
            if o.status == FAIL:
                ET.SubElement(case, "failure", message=o.message).text = o.message
            elif o.status == SKIP:
                ET.SubElement(case, "skipped", message=o.message)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(path: Path, outcomes: Sequence[Outcome], elapsed: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(junit(outcomes, elapsed), encoding="utf-8")
