"""Reading the answers suites get (their one httpx client per name: Suite.http_client)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from devenv.contracts.core import CheckFailed, describe_response

if TYPE_CHECKING:
    import httpx


def json_of(resp: httpx.Response) -> dict[str, object]:
    """The body as a JSON object, or a failure saying what came instead."""
    try:
        data = resp.json()
    except ValueError:
        raise CheckFailed(f"expected a JSON body, got {describe_response(resp)}") from None
    if not isinstance(data, dict):
        raise CheckFailed(f"expected a JSON object, got {describe_response(resp)}")
    return data


def status(resp: httpx.Response, *wanted: int) -> None:
    if resp.status_code not in wanted:
        want = " or ".join(str(w) for w in wanted)
        raise CheckFailed(
            f"expected HTTP {want} from {resp.request.method} {resp.request.url.path},"
            f" got {describe_response(resp)}"
        )
