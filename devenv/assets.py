"""Files devenv ships beside its code: compose/ (the stack's definition, Kong's config template,
the image build contexts), inside the wheel or in a source checkout."""

from __future__ import annotations

from pathlib import Path

from devenv.errors import StackError


def compose_dir() -> Path:
    """compose/ as shipped: inside the wheel (devenv/_data/compose) or the source checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_data" / "compose", here.parent / "compose"):
        if (candidate / "compose.yaml").is_file():
            return candidate
    raise StackError(
        "compose/compose.yaml is missing from the devenv installation",
        "reinstall devenv-stack",
    )


def compose_file() -> Path:
    return compose_dir() / "compose.yaml"
