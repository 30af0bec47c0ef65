"""The one httpx client a suite uses, with explicit timeouts."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx


def client(base_url: str, timeout: float, headers: dict[str, str] | None = None) -> httpx.Client:
    from urllib.parse import urlsplit

    import httpx

    local = urlsplit(base_url).hostname in ("127.0.0.1", "localhost", "::1")
    return httpx.Client(
        base_url=base_url,
        # Connecting to a local or hosted service takes milliseconds; a dead one is told fast.
        timeout=httpx.Timeout(timeout, connect=min(timeout, 2.0)),
        headers=headers or {},
        follow_redirects=False,
        # A developer's HTTP(S)_PROXY must not sit between us and the local stack; a hosted
        # environment may need it.
        trust_env=not local,
    )


def json_of(resp: httpx.Response) -> dict[str, object]:
    """The body as a JSON object, or a failure saying what came instead."""
    from devenv.contracts.core import CheckFailed, describe_response

    try:
        data = resp.json()
    except ValueError:
        raise CheckFailed(f"expected a JSON body, got {describe_response(resp)}") from None
    if not isinstance(data, dict):
        raise CheckFailed(f"expected a JSON object, got {describe_response(resp)}")
    return data


def status(resp: httpx.Response, *wanted: int) -> None:
    from devenv.contracts.core import CheckFailed, describe_response

    if resp.status_code not in wanted:
        want = " or ".join(str(w) for w in wanted)
        raise CheckFailed(
            f"expected HTTP {want} from {resp.request.method} {resp.request.url.path},"
            f" got {describe_response(resp)}"
        )
