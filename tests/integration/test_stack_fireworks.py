"""The Fireworks mock as the stack's `fireworks` service, called with the real SDKs at the URL and
key `devenv status -o env` gives an app."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import fireworks
import httpx
import openai
import pytest

from tests.conftest import REPO, unavailable
from tests.integration.conftest import Project

pytestmark = pytest.mark.engine

CHAT = "accounts/fireworks/models/llama-v3p1-8b-instruct"
STUBS = """\
stubs:
  - name: which-machine
    match:
      endpoint: chat.completions
      content_regex: "(?i)which machine"
    reply:
      content: "A lathe, from the project's own stub."
"""


@pytest.fixture(scope="module")
def fireworks_image(engine: None) -> str:
    from devenv import config
    from devenv.stack import engine as eng

    # A folder with no devenv.toml: the default image, or DEVENV_IMAGE_FIREWORKS.
    image = config.load(Path(os.environ.get("TMPDIR", "/tmp"))).image("fireworks")
    try:
        eng.Engine().client.images.get(image)
    except Exception:
        unavailable(f"Fireworks mock image {image} is missing; run the README's test command")
    return image


def env_of(p: Project) -> dict[str, str]:
    proc = p.cli("status", "-o", "env")
    assert proc.returncode == 0, proc.stderr
    return dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)


def test_fireworks_service_answers_both_sdks_with_stubs_and_the_same_reply_after_restart(
    project_factory: Any, fireworks_image: str
) -> None:
    p: Project = project_factory(["fireworks"])
    (p.root / "fixtures" / "fireworks").mkdir(parents=True)
    (p.root / "fixtures" / "fireworks" / "stubs.yaml").write_text(STUBS)
    up = p.cli("up")
    assert up.returncode == 0, up.stderr
    assert "fireworks" in up.stdout and "/inference/v1" in up.stdout

    env = env_of(p)
    base, key = env["FIREWORKS_BASE_URL"], env["FIREWORKS_API_KEY"]
    assert base == f"http://127.0.0.1:{p.cfg.ports['fireworks']}/inference/v1"
    messages = [{"role": "user", "content": "Describe a milling machine in one line."}]
    with openai.OpenAI(base_url=base, api_key=key, max_retries=0) as oai:
        stubbed = oai.chat.completions.create(
            model=CHAT, messages=[{"role": "user", "content": "Which machine is this?"}]
        )
        assert stubbed.choices[0].message.content == "A lathe, from the project's own stub."
        first = oai.chat.completions.create(model=CHAT, messages=messages)  # type: ignore[arg-type]
    assert first.choices[0].message.content
    # The fireworks-ai SDK takes the host and posts under /v1: the same mock, the same reply.
    with fireworks.Fireworks(
        base_url=base.removesuffix("/inference/v1"), api_key=key, account_id="fireworks"
    ) as fw:
        same = fw.chat.completions.create(model=CHAT, messages=messages)  # type: ignore[arg-type]
    assert same.choices[0].message.content == first.choices[0].message.content

    restarted = p.cli("restart", "fireworks")
    assert restarted.returncode == 0, restarted.stderr
    with openai.OpenAI(base_url=base, api_key=key, max_retries=0) as oai:
        again = oai.chat.completions.create(model=CHAT, messages=messages)  # type: ignore[arg-type]
        assert again.choices[0].message.content == first.choices[0].message.content
    # `devenv env init` points the app at the mock, over the schema's default (the real API).
    shutil.copy(REPO / ".env.schema", p.root / ".env.schema")
    init = p.cli("env", "init")
    assert init.returncode == 0, init.stderr
    written = dict(
        ln.split("=", 1) for ln in (p.root / ".env").read_text().splitlines() if "=" in ln
    )
    assert written["FIREWORKS_BASE_URL"] == base
    assert written["FIREWORKS_API_KEY"] == key

    # A key is still required, as Fireworks requires one.
    no_key = httpx.get(f"{base}/models", timeout=10)
    assert no_key.status_code == 401
    assert no_key.json()["error"]["code"] == "UNAUTHORIZED"


def test_missing_fireworks_image_is_built_by_up(project_factory: Any, fireworks_image: str) -> None:
    from devenv.stack import engine as eng

    tag = f"devenv-it-fireworks:{uuid.uuid4().hex[:8]}"
    p: Project = project_factory(["fireworks"])
    try:
        up = p.cli("up", env={"DEVENV_IMAGE_FIREWORKS": tag}, timeout=600)
        assert up.returncode == 0, up.stderr
        eng.Engine().client.images.get(tag)
        env = env_of(p)
        with openai.OpenAI(
            base_url=env["FIREWORKS_BASE_URL"], api_key=env["FIREWORKS_API_KEY"], max_retries=0
        ) as oai:
            assert any(m.id == CHAT for m in oai.models.list())
    finally:
        p.cli("down", env={"DEVENV_IMAGE_FIREWORKS": tag})
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, check=False)


def test_fireworks_image_that_cannot_be_built_is_one_line_and_starts_nothing(
    project_factory: Any, fireworks_image: str
) -> None:
    p: Project = project_factory(["postgres", "fireworks"])
    bad_base = f"devenv-no-such-base:{uuid.uuid4().hex[:8]}"
    proc = p.cli(
        "up",
        env={
            "DEVENV_IMAGE_FIREWORKS": f"devenv-it-fireworks:{uuid.uuid4().hex[:8]}",
            "DEVENV_FIREWORKS_BASE_IMAGE": bad_base,
        },
    )
    assert proc.returncode == 1
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    # First the note that the image is being built (it takes a while), then the one error line.
    assert lines[0].startswith("devenv: building devenv-it-fireworks:"), proc.stderr
    lines = lines[1:]
    assert len(lines) == 1, proc.stderr
    assert bad_base in lines[0] and "DEVENV_FIREWORKS_BASE_IMAGE" in lines[0]
    assert "Traceback" not in proc.stderr
    status = p.cli("status", "-o", "json")
    assert json.loads(status.stdout)["running"] is False


def test_edited_stubs_reach_the_running_mock_through_reload_and_a_bad_file_changes_nothing(
    project_factory: Any, fireworks_image: str
) -> None:
    """No host folder is mounted: `up` sends the stubs, `devenv mock reload` sends an edit to
    the running mock without a restart, and a broken file is one line naming it while the mock
    keeps answering with the stubs it had (also after a restart of its container)."""
    p: Project = project_factory(["fireworks"])
    folder = p.root / "fixtures" / "fireworks"
    folder.mkdir(parents=True)
    (folder / "stubs.yaml").write_text(STUBS)
    up = p.cli("up")
    assert up.returncode == 0, up.stderr
    env = env_of(p)
    ask = [{"role": "user", "content": "Which machine is this?"}]

    def reply() -> str | None:
        with openai.OpenAI(
            base_url=env["FIREWORKS_BASE_URL"], api_key=env["FIREWORKS_API_KEY"], max_retries=0
        ) as oai:
            out = oai.chat.completions.create(model=CHAT, messages=ask)  # type: ignore[arg-type]
            return out.choices[0].message.content

    assert reply() == "A lathe, from the project's own stub."
    started = {c.service: c.started_at for c in p.containers()}
    (folder / "stubs.yaml").write_text(STUBS.replace("A lathe", "A milling machine"))
    reload = p.cli("mock", "reload")
    assert reload.returncode == 0, reload.stderr
    assert "1 stubs loaded from fixtures/fireworks" in reload.stdout
    assert reply() == "A milling machine, from the project's own stub."
    assert {c.service: c.started_at for c in p.containers()} == started  # no restart

    (folder / "broken.yaml").write_text("stubs:\n  - name: x\n    match: {nope: 1}\n")
    bad = p.cli("mock", "reload")
    assert bad.returncode == 1
    lines = [ln for ln in bad.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "fixtures/fireworks/broken.yaml:3" in lines[0], bad.stderr
    assert reply() == "A milling machine, from the project's own stub."
    # The mock kept the good set in its container: a restart starts with it.
    assert p.cli("restart", "fireworks").returncode == 0
    assert reply() == "A milling machine, from the project's own stub."
