"""AWS error responses as the same EventBusErrors the local backend raises."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import aiohttp
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from .._core import _errors
from .._core._errors import EventBusError, InvalidParameterValue, ServiceUnavailable

_PREFIX = "AWS.SimpleQueueService."

#: AWS codes whose local counterpart has another name.
_ALIASES = {
    "NonExistentQueue": "QueueDoesNotExist",
    "QueueNameExists": "QueueAlreadyExists",
    "InvalidParameterValue.Enum": "InvalidParameterValue",
}


def _known() -> dict[str, type[EventBusError]]:
    classes: dict[str, type[EventBusError]] = {}
    for value in vars(_errors).values():
        if isinstance(value, type) and issubclass(value, EventBusError):
            classes[value.code] = value
    return classes


_KNOWN = _known()


@cache
def error_class(code: str) -> type[EventBusError]:
    """The EventBusError class for an AWS error code (made on the fly if new)."""
    code = aws_code(code)
    known = _KNOWN.get(code)
    if known is not None:
        return known
    return type(code, (EventBusError,), {"code": code, "__module__": __name__})


def aws_code(code: str) -> str:
    """An AWS error code in the local backend's spelling.

    The SQS query protocol prefixes codes (``AWS.SimpleQueueService.NonExistentQueue``);
    the JSON protocol sends the short form, and some codes differ by name.
    """
    code = code.removeprefix(_PREFIX)
    return _ALIASES.get(code, code)


def from_client_error(error: ClientError) -> EventBusError:
    """The EventBusError for a botocore ClientError.

    The query-protocol code (``Code``, from ``x-amzn-query-error``) is the documented
    name; the JSON protocol's ``__type`` (``QueryErrorCode``) is the fallback.
    """
    details: dict[str, Any] = dict(error.response.get("Error", {}))
    code = str(details.get("Code") or details.get("QueryErrorCode") or "InternalError")
    message = str(details.get("Message") or error)
    return error_class(code)(message)


@contextmanager
def translated() -> Iterator[None]:
    """Raise the errors of the calls inside as EventBusErrors.

    AWS's answers keep their code; a request botocore refuses to send is an
    ``InvalidParameterValue``; a failure to reach the service (a refused or dropped
    connection, a timeout) is a ``ServiceUnavailable``, which may be tried again.
    """
    try:
        yield
    except ClientError as error:
        raise from_client_error(error) from error
    except ParamValidationError as error:
        raise InvalidParameterValue(str(error)) from error
    except (TimeoutError, BotoCoreError, aiohttp.ClientError) as error:
        raise ServiceUnavailable(f"{type(error).__name__}: {error}") from error
