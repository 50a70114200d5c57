"""The ASGI app uvicorn serves: argilla-server's own, with the embedded engine registered in every worker."""

from curation.server.run import _prepare

_prepare()

from argilla_server import app  # noqa: E402

__all__ = ["app"]
