"""The README's devenv.toml table lists every key devenv accepts (unknown keys are errors, so a
user needs the whole list), and the `init` template writes each of them."""

from __future__ import annotations

import re
from pathlib import Path

from devenv import config

README = Path(__file__).resolve().parents[3] / "README.md"


def documented() -> set[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## devenv.toml\n", 1)[1].split("\n## ", 1)[0]
    out: set[str] = set()
    for row in re.findall(r"(?m)^\| `\[(\w+)\] ([^|]+)` \|", section):
        table, keys = row
        for key in re.findall(r"(\w+)`?", keys.replace("`", " ")):
            out.add(f"{table}.{key}")
    return out


def test_every_devenv_toml_key_is_in_the_readme() -> None:
    known = {f"{s}.{k}" for s, keys in config._SECTIONS.items() for k in keys}
    assert known - documented() == set()
    assert documented() - known == set()
