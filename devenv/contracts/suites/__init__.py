"""One contract suite per service; importing this package registers them, in report order."""

from devenv.contracts.suites import fireworks, gotrue, kong, mail, postgres, redis

__all__ = ["fireworks", "gotrue", "kong", "mail", "postgres", "redis"]
