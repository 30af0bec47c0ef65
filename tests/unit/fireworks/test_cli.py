"""`devenv mock fireworks` as a user runs it: a real process on a real port."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import openai

from devenv.mocks.fireworks.server import MockServer
from tests.conftest import run_cli
from tests.unit.fireworks.conftest import CHAT, KEY, REPO, STUBS, Wire

MESSAGES: Wire = [{"role": "user", "content": "Tell me about bearings."}]


@contextmanager
def mock_process(*args: str, cwd: Path = REPO) -> Iterator[tuple[subprocess.Popen[str], str]]:
    env = {k: v for k, v in os.environ.items() if k != "DEVENV_DEBUG"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "devenv", "mock", "fireworks", "--port", "0", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        m = re.search(r"on (http://\S+) ", line)
        assert m, f"no URL announced: {line!r}"
        url = m.group(1)
        deadline = time.monotonic() + 15
        while True:
            try:
                httpx.get(url + "/__devenv/health", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "mock did not answer its health check"
                time.sleep(0.05)
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_serves_the_sdks_and_answers_like_the_in_process_mock(mock: MockServer) -> None:
    with mock_process("--stubs", str(STUBS)) as (proc, url):
        remote = openai.OpenAI(base_url=url + "/inference/v1", api_key=KEY)
        local = openai.OpenAI(base_url=mock.url + "/inference/v1", api_key=KEY)
        a = remote.chat.completions.create(model=CHAT, messages=MESSAGES)
        b = local.chat.completions.create(model=CHAT, messages=MESSAGES)
        assert a.choices[0].message.content == b.choices[0].message.content
        health = httpx.get(url + "/__devenv/health").json()
        assert health["status"] == "ok" and health["stubs"] >= 4
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0


def test_sigint_stops_cleanly() -> None:
    with mock_process() as (proc, _url):
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
        assert proc.stderr is not None and "Traceback" not in proc.stderr.read()


def test_keys_option_accepts_only_those(tmp_path: Path) -> None:
    with mock_process("--keys", "alpha,beta", "--keys", "gamma", cwd=tmp_path) as (_proc, url):
        for key, status in (("alpha", 200), ("gamma", 200), ("delta", 401)):
            r = httpx.post(
                url + "/v1/chat/completions",
                json={"model": CHAT, "messages": MESSAGES},
                headers={"Authorization": f"Bearer {key}"},
            )
            assert r.status_code == status, key
        # Without a fixtures/fireworks directory in the working directory: no stubs.
        assert httpx.get(url + "/__devenv/stubs").json()["stubs"] == []


def test_bad_stub_file_exits_1_naming_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("stubs:\n  - name: x\n    reply:\n      contnet: hi\n")
    result = run_cli("mock", "fireworks", "--stubs", str(tmp_path), "--port", "0", cwd=tmp_path)
    assert result.returncode == 1
    assert f"{tmp_path / 'bad.yaml'}:4: unknown key 'contnet'" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    bad_level = run_cli("mock", "fireworks", "--log-level", "loud", cwd=tmp_path)
    assert bad_level.returncode == 2 and "--log-level" in bad_level.stderr
    empty_key = run_cli("mock", "fireworks", "--keys", "a,,b", cwd=tmp_path)
    assert empty_key.returncode == 2 and "empty key" in empty_key.stderr
    bad_port = run_cli("mock", "fireworks", "--port", "70000", cwd=tmp_path)
    assert bad_port.returncode == 2


def test_port_in_use_exits_1_naming_it(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        result = run_cli("mock", "fireworks", "--port", str(port), cwd=tmp_path)
    assert result.returncode == 1
    assert f"127.0.0.1:{port}" in result.stderr and "Traceback" not in result.stderr


def test_missing_stub_directory_exits_1(tmp_path: Path) -> None:
    result = run_cli("mock", "fireworks", "--stubs", str(tmp_path / "nope"), cwd=tmp_path)
    assert result.returncode == 1 and "does not exist" in result.stderr
