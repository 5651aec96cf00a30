"""Errors the server answers in OpenAI's JSON shape: `ApiError` and the two ways routes make one.

Every route module of the server raises `ApiError`; the app's exception handler turns it into
``{"error": {"message", "type", "param", "code"}}`` with its status. `internal_error` logs the
traceback and answers 500 with a request id (never the traceback itself); `client_error` maps a
`GenaisysError` caused by the request's content to 400.

Example:
    >>> ApiError(404, "no graph named 'x'", code="graph_not_found").body()["error"]["code"]
    'graph_not_found'
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from fastapi.responses import JSONResponse

from genaisys.errors import GenaisysError

__all__ = ["ApiError", "client_error", "internal_error", "logger"]

logger = logging.getLogger("genaisys.serve")


class ApiError(Exception):
    """An error answered in OpenAI's JSON shape.

    Args:
        status: the HTTP status code.
        message: what was wrong and how to fix it.
        type: OpenAI's error type (``invalid_request_error``, ``authentication_error``, ``server_error``).
        param: the offending request field, if any.
        code: a machine-readable code (``invalid_api_key``, ``model_not_found`` …).
    """

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type, param, code

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def response(self, headers: Mapping[str, str] | None = None) -> JSONResponse:
        headers = {**(headers or {}), **({"WWW-Authenticate": "Bearer"} if self.status == 401 else {})}
        return JSONResponse(self.body(), status_code=self.status, headers=headers or None)


def internal_error(where: str, exc: BaseException | None = None) -> ApiError:
    """A 500 for an unexpected failure while ``where``: logged with its traceback (that of ``exc``,
    else the one being handled), answered without it."""
    request_id = uuid.uuid4().hex[:12]
    logger.error("internal error in %s (request %s)", where, request_id, exc_info=exc if exc is not None else True)
    return ApiError(500, f"internal server error while {where} (request id {request_id}; details are in the "
                         "server log)", type="server_error", code="internal_error")


def client_error(exc: GenaisysError | NotImplementedError) -> ApiError:
    """Errors caused by the request's content (a bad image, a refused URL, a bad filter) → 400."""
    return ApiError(400, str(exc), code=type(exc).__name__)
