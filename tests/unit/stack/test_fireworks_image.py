"""How devenv makes the Fireworks mock's build context (the build runs in the engine tests)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from devenv import environ
from devenv.assets import compose_dir
from devenv.errors import ImageMissing
from devenv.stack import fireworks_image


def test_base_image_matches_this_python_unless_overridden() -> None:
    py = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert fireworks_image.base_image(environ.read({})) == f"python:{py}-slim"
    env = environ.read({fireworks_image.BASE_ENV: "mirror.local/py:3.11"})
    assert fireworks_image.base_image(env) == "mirror.local/py:3.11"


def test_source_is_this_checkout() -> None:
    src = Path(fireworks_image.package_source())
    assert (src / "pyproject.toml").is_file() and (src / "devenv" / "stack").is_dir()


def test_a_failing_pip_wheel_is_one_line_with_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fireworks_image, "package_source", lambda: str(tmp_path / "no-such-src"))
    with pytest.raises(ImageMissing) as err:
        fireworks_image.make_context(tmp_path, compose_dir())
    line = err.value.one_line()
    assert "\n" not in line
    assert "pip wheel" in line and "DEVENV_IMAGE_FIREWORKS" in line
    assert (tmp_path / "Dockerfile").is_file()  # the Dockerfile is copied before the wheels
