"""Connecting to Argilla: ARGILLA_API_URL / ARGILLA_API_KEY, else the embedded stack's credentials file."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path

from curation.errors import ArgillaUnavailable
from curation.server.login import Credentials, default_data_dir


def resolve(api_url: str | None = None, api_key: str | None = None, data_dir: Path | None = None) -> tuple[str, str]:
    """The URL and API key to use: arguments, then the environment, then the embedded stack's credentials."""
    api_url = api_url or os.environ.get("ARGILLA_API_URL")
    api_key = api_key or os.environ.get("ARGILLA_API_KEY")
    credentials = Path(data_dir or default_data_dir()) / "credentials.json"
    if (not api_url or not api_key) and credentials.exists():
        stored = Credentials.load(credentials)
        api_url = api_url or stored.url
        api_key = api_key or stored.api_key
    if not api_url or not api_key:
        raise ArgillaUnavailable(
            "no Argilla server configured: set ARGILLA_API_URL and ARGILLA_API_KEY, or start the embedded one "
            "with `curation server start`"
        )
    return api_url.rstrip("/"), api_key


def check(api_url: str, api_key: str, timeout: float = 10.0) -> dict:
    """Who the key belongs to; a clear error if the server is down or the key is wrong."""
    request = urllib.request.Request(f"{api_url}/api/v1/me", headers={"X-Argilla-Api-Key": api_key})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as e:
        if e.code in (401, 403):
            raise ArgillaUnavailable(
                f"Argilla at {api_url} rejected the API key: check ARGILLA_API_KEY (the embedded server's owner key "
                f"is in {default_data_dir() / 'credentials.json'})"
            ) from None
        raise ArgillaUnavailable(f"Argilla at {api_url} answered HTTP {e.code} to /api/v1/me: see its logs") from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise ArgillaUnavailable(
            f"Argilla is not reachable at {api_url} ({reason}): start it with `curation server start`, or set "
            "ARGILLA_API_URL to a running server"
        ) from None


def connect(api_url: str | None = None, api_key: str | None = None, data_dir: Path | None = None):
    """An `argilla.Argilla` client after checking that the server answers and accepts the key."""
    import argilla as rg

    api_url, api_key = resolve(api_url, api_key, data_dir)
    check(api_url, api_key)
    _quiet_sdk_progress()
    return rg.Argilla(api_url=api_url, api_key=api_key, timeout=120)


def _quiet_sdk_progress() -> None:
    """The SDK draws a "Sending records..." bar on stderr for every `records.log`, however small (and offers no
    switch); our commands draw their own bars for long work, so the SDK's are turned off."""
    import functools

    import argilla.records._dataset_records as sdk_records
    from tqdm import tqdm

    sdk_records.tqdm = functools.partial(tqdm, disable=True)


def transient(e: Exception) -> bool:
    """A failure that may pass by itself: Argilla unreachable or the connection dropped, or a 5xx answer (the SDK's
    errors and ours carry `status_code`). Worth retrying a write that is idempotent."""
    import httpx

    return isinstance(e, httpx.TransportError) or (getattr(e, "status_code", None) or 0) >= 500
