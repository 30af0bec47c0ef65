"""tests/hermetic/setup takes its Debian mirror from the machine, never from a built-in host."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.conftest import REPO

SETUP = REPO / "tests" / "hermetic" / "setup"


def mirror(etc: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k != "DEVENV_DEBIAN_MIRROR"}
    full.update(DEVENV_HERMETIC_APT_ETC=str(etc), DEVENV_HERMETIC_CACHE=str(etc / "cache"), **env)
    return subprocess.run(
        ["bash", str(SETUP), "--debian-mirror"], env=full, capture_output=True, text=True
    )


def test_from_one_line_and_deb822_sources_skipping_others(tmp_path: Path) -> None:
    d = tmp_path / "sources.list.d"
    d.mkdir()
    (d / "a-third-party.list").write_text(
        "deb [signed-by=/k.gpg] https://repo.example/apt stable main\n"
    )
    (d / "b.list.disabled").write_text("deb http://disabled.example/debian bookworm main\n")
    (d / "c.sources").write_text(
        "Types: deb\n# http://commented.example/debian\n"
        "URIs: http://mirror.example/debian/\nSuites: bookworm\n\n"
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n"
    )
    proc = mirror(tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "http://mirror.example/debian\n"
    (tmp_path / "sources.list").write_text(
        "deb [arch=amd64] http://first.example/debian bookworm main\n"
    )
    assert mirror(tmp_path).stdout == "http://first.example/debian\n"


def test_environment_variable_wins(tmp_path: Path) -> None:
    (tmp_path / "sources.list").write_text("deb http://first.example/debian bookworm main\n")
    proc = mirror(tmp_path, DEVENV_DEBIAN_MIRROR="http://local-mirror.internal/debian/")
    assert proc.stdout == "http://local-mirror.internal/debian\n"


def test_neither_is_one_clear_line(tmp_path: Path) -> None:
    proc = mirror(tmp_path)
    assert proc.returncode == 1
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "no Debian mirror" in lines[0] and "DEVENV_DEBIAN_MIRROR" in lines[0]
    assert str(tmp_path) in lines[0]


def _configured_registry_hosts() -> set[str]:
    """The package registries' hosts as this machine's own configuration names them (apt
    sources, pip's index, npm's registry, Go's proxy): never written down here, so this file
    does not name them either."""
    import glob
    import re
    import shutil

    urls: list[str] = []
    for path in ["/etc/apt/sources.list", *glob.glob("/etc/apt/sources.list.d/*")]:
        try:
            text = Path(path).read_text(errors="replace")
        except OSError:
            continue
        urls += re.findall(r"(?m)^(?:URIs:|deb)\s+(?:\[[^]]*\]\s+)?(https?://\S+)", text)
    try:
        from pip._internal.models.index import PyPI

        urls += [PyPI.url, f"https://{PyPI.file_storage_domain}/"]
    except Exception:  # pip internals moved: the other sources still count
        pass
    for argv in (["pip", "config", "list"], ["npm", "config", "get", "registry"],
                 ["go", "env", "GOPROXY"]):  # fmt: skip
        if shutil.which(argv[0]):
            out = subprocess.run(argv, capture_output=True, text=True, check=False).stdout
            urls += re.findall(r"https?://[^\s\"',|]+", out)
    hosts = {re.sub(r"^https?://", "", u).split("/")[0] for u in urls}
    return {h for h in hosts if h and not h.startswith(("localhost", "127."))}


def test_no_package_registry_host_in_the_repository() -> None:
    hosts = _configured_registry_hosts()
    assert hosts, "no registry configured on this machine: nothing to look for"
    out = subprocess.run(
        ["git", "grep", "-nI", "-F", *(a for h in sorted(hosts) for a in ("-e", h)), "--", "."],
        cwd=REPO, capture_output=True, text=True,
    )  # fmt: skip
    assert out.returncode == 1, f"registry hosts named in the repository:\n{out.stdout}"
