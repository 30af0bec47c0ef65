"""What the stack reports: per-service state for the progress table, and the status `devenv
status` and `devenv up` print (JSON shapes are part of the CLI's contract)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devenv.stack import secrets
from devenv.stack.secrets import Keys
from devenv.trace import Trace


@dataclass
class ServiceState:
    """One service while ``up`` waits: what the live table shows."""

    name: str
    state: str = "waiting"  # waiting | created | starting | running | healthy | unhealthy | exited
    health: str = ""
    container: str = ""
    exit_code: int | None = None


@dataclass
class ServiceInfo:
    name: str
    state: str
    health: str
    port: int
    url: str
    container: str
    startup_s: float | None
    #: Why a running service is unhealthy although its container says healthy (devenv's own
    #: probe of what apps do with it: health.app_probes).
    why: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "service": self.name,
            "state": self.state,
            "health": self.health,
            "why": self.why,
            "port": self.port,
            "url": self.url,
            "container": self.container,
            "startup_s": None if self.startup_s is None else round(self.startup_s, 2),
        }


@dataclass
class Status:
    project: str
    root: Path
    services: list[ServiceInfo]
    keys: Keys | None
    api_url: str
    running: bool
    #: The last `up`'s startup waterfall (devenv.trace), if one was kept.
    trace: Trace | None = None

    def as_dict(self, show_secrets: bool = False) -> dict[str, Any]:
        keys: dict[str, str] = {}
        if self.keys is not None:
            keys = {
                "anon_key": self.keys.anon_key,
                "service_role_key": self.keys.service_role_key,
                "jwt_secret": self.keys.jwt_secret,
            }
            if not show_secrets:
                keys["service_role_key"] = secrets.mask(keys["service_role_key"])
                keys["jwt_secret"] = secrets.mask(keys["jwt_secret"])
        return {
            "project": self.project,
            "root": str(self.root),
            "running": self.running,
            "api_url": self.api_url,
            "services": [s.as_dict() for s in self.services],
            "keys": keys,
            "trace": self.trace.as_dict() if self.trace is not None else None,
        }

    def service(self, name: str) -> ServiceInfo | None:
        return next((s for s in self.services if s.name == name), None)

    @property
    def running_services(self) -> list[str]:
        return [s.name for s in self.services if s.state == "running"]


@dataclass
class UpResult:
    status: Status
    elapsed_s: float
    phases: dict[str, float] = field(default_factory=dict)
    keys_how: str = "loaded"  # loaded | recovered | created

    @property
    def recovered_keys(self) -> bool:
        return self.keys_how == "recovered"

    @property
    def created_keys(self) -> bool:
        return self.keys_how == "created"

    def as_dict(self, show_secrets: bool = False) -> dict[str, Any]:
        data = self.status.as_dict(show_secrets)
        data["elapsed_s"] = round(self.elapsed_s, 2)
        data["phases"] = {k: round(v, 3) for k, v in self.phases.items()}
        return data


ProgressFn = Callable[[Mapping[str, ServiceState], float], None]
