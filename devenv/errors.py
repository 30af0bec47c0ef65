"""The one exception tree every part of devenv raises, and the CLI's single error boundary catches.

Each error carries what went wrong (``message``, naming the thing and where), what to do
(``hint``) and the process exit code. The CLI prints ``devenv: <message> (<hint>)`` on one
line and exits with ``exit_code``; a traceback appears only with ``DEVENV_DEBUG=1``.

::

    DevenvError                      exit 1 unless stated
    ├── UsageError                   exit 2  bad arguments (unknown service name, ...)
    ├── ConfigError                  exit 2  devenv.toml invalid; carries every problem at once
    ├── EngineError                          Docker engine missing, stopped or socket unreadable
    │   ├── ComposeError                     `docker compose` failed (command, exit code, stderr)
    │   └── ImageMissing                     an image is not present locally and cannot be pulled
    ├── PortInUse                            a host port is taken (port, service, holder)
    ├── StackError                           the stack is in a state the command cannot use
    │   └── HealthTimeout                    a service did not get healthy before the deadline
    ├── SecretsError                         .devenv/ keys unreadable or inconsistent
    ├── DatabaseError                        migrations, seeds, snapshots (devenv.db)
    ├── EnvFileError                 exit 2  .env / .env.schema unreadable or malformed
    ├── MockError                            the Fireworks mock cannot start (bad stub file, ...)
    └── Interrupted                  exit 130 Ctrl-C; every step is idempotent, so re-run

Messages must never contain a secret value (JWT secret, service_role key, passwords, API keys):
callers pass names, not values.
"""

from __future__ import annotations

from collections.abc import Sequence

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


class DevenvError(Exception):
    """Base class: one clear line (``message``), a remedy (``hint``) and an exit code."""

    exit_code: int = EXIT_FAILURE

    def __init__(self, message: str, hint: str | None = None, *, exit_code: int | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code

    def one_line(self) -> str:
        """The line the CLI prints: what, where, and what to do."""
        return f"{self.message} ({self.hint})" if self.hint else self.message

    def details(self) -> Sequence[str]:
        """Extra lines printed under the one line (e.g. every config problem); empty by default."""
        return ()


def last_line(text: str) -> str:
    """The last non-blank line of a tool's output: usually the one that says what went wrong."""
    return next((ln.strip() for ln in reversed(text.splitlines()) if ln.strip()), "")


class UsageError(DevenvError):
    exit_code = EXIT_USAGE


class ConfigError(DevenvError):
    """devenv.toml is malformed or invalid. ``problems`` lists every one, each with file and key."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, hint: str | None = None, problems: Sequence[str] = ()):
        super().__init__(message, hint)
        self.problems = list(problems)

    def details(self) -> Sequence[str]:
        return self.problems


class EngineError(DevenvError):
    pass


class ComposeError(EngineError):
    """A `docker compose` run failed: argv (secrets go via env, never argv), exit code, stderr."""

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        argv: Sequence[str] = (),
        returncode: int | None = None,
        stderr: str = "",
    ):
        super().__init__(message, hint)
        self.argv = list(argv)
        self.returncode = returncode
        self.stderr = stderr

    def details(self) -> Sequence[str]:
        tail = [line for line in self.stderr.strip().splitlines() if line.strip()][-8:]
        return tail


class ImageMissing(EngineError):
    pass


class PortInUse(DevenvError):
    def __init__(self, message: str, hint: str | None = None, *, port: int = 0, service: str = ""):
        super().__init__(message, hint)
        self.port = port
        self.service = service


class StackError(DevenvError):
    pass


class HealthTimeout(StackError):
    def __init__(
        self, message: str, hint: str | None = None, *, logs: dict[str, str] | None = None
    ):
        super().__init__(message, hint)
        self.logs = logs or {}

    def details(self) -> Sequence[str]:
        out: list[str] = []
        for service, text in self.logs.items():
            out.append(f"--- last log lines of {service} ---")
            out.extend(text.rstrip().splitlines())
        return out


class SecretsError(DevenvError):
    pass


class DatabaseError(DevenvError):
    pass


class EnvFileError(DevenvError):
    exit_code = EXIT_USAGE


class MockError(DevenvError):
    pass


class Interrupted(DevenvError):
    """Ctrl-C. Raised from the SIGINT handler so it reaches the one error boundary (click would
    otherwise swallow a KeyboardInterrupt into its own "Aborted!")."""

    exit_code = 130
