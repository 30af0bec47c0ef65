"""An ssh:// engine without paramiko (the Docker SDK's ssh transport imports it) is one line that
names the extra to install, not the SDK's exception."""

from __future__ import annotations

import pytest

from devenv.errors import EngineError
from devenv.stack.engine import Engine


def test_ssh_engine_without_paramiko_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import docker
    from docker.errors import DockerException

    def no_paramiko(**_kw: object) -> None:
        raise DockerException("Install paramiko package to enable ssh:// support")

    monkeypatch.setenv("DOCKER_HOST", "ssh://me@127.0.0.4:2222")
    monkeypatch.setattr(docker, "from_env", no_paramiko)
    with pytest.raises(EngineError) as err:
        _ = Engine().client
    assert "ssh://me@127.0.0.4:2222" in err.value.message and "paramiko" in err.value.message
    assert err.value.hint == "pip install 'devenv-stack[ssh]'"
