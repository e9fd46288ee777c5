"""Pages of list calls, with AWS's page sizes and opaque ``NextToken`` values.

SQS (``ListQueues``, ``ListDeadLetterSourceQueues``): ``MaxResults`` is 1-1000, and a
``NextToken`` comes back only when ``MaxResults`` was given ("You must set
MaxResults to receive a value for NextToken in the response", the SQS API
reference); without it one answer holds up to 1000 queues. SNS (``ListTopics``,
``ListSubscriptions``, ``ListSubscriptionsByTopic``): 100 per page, no page size to
choose. Items come in the order of their keys (names, or subscription ARNs), and a
token names the last key returned, so a page never repeats or skips an item that
existed through the whole listing. The token's form is ours; AWS's is opaque too.
"""

from __future__ import annotations

import base64
import binascii
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from ._errors import EventBusError, InvalidParameter, InvalidParameterValue, bounded_repr

SQS_MAX_RESULTS = 1_000
SNS_PAGE_SIZE = 100

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list call: the items and the token for the next page.

    Attributes:
        items: this page's items.
        next_token: pass it back for the next page; None on the last page.
    """

    items: list[T] = field(default_factory=list)
    next_token: str | None = None


def _encode(kind: str, after: str) -> str:
    return base64.urlsafe_b64encode(f"{kind}\0{after}".encode()).decode()


def _decode(kind: str, token: object, error: EventBusError) -> str:
    if not isinstance(token, str):
        raise error
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise error from None
    found, _, after = text.partition("\0")
    if found != kind:
        raise error
    return after


def check_max_results(max_results: object) -> int:
    """Raise InvalidParameterValue unless ``max_results`` is an int from 1 to 1000."""
    if (
        not isinstance(max_results, int)
        or isinstance(max_results, bool)
        or not 1 <= max_results <= SQS_MAX_RESULTS
    ):
        raise InvalidParameterValue(
            f"Value {max_results} for parameter MaxResults is invalid. Reason: MaxResults "
            f"must be an integer from 1 to {SQS_MAX_RESULTS}."
        )
    return max_results


def sqs_page(
    keys: Sequence[str], *, kind: str, max_results: int | None, next_token: str | None
) -> tuple[list[str], str | None]:
    """The keys (sorted) of one SQS page, and the next token.

    Raises:
        InvalidParameterValue: ``max_results`` outside 1-1000, or a token that is not
            one this call returned.
    """
    size = SQS_MAX_RESULTS if max_results is None else check_max_results(max_results)
    start = 0
    if next_token is not None:
        after = _decode(
            kind,
            next_token,
            InvalidParameterValue(f"Invalid NextToken value {bounded_repr(next_token)}."),
        )
        start = bisect_right(keys, after)
    chosen = list(keys[start : start + size])
    more = start + size < len(keys)
    token = _encode(kind, chosen[-1]) if more and max_results is not None and chosen else None
    return chosen, token


def sns_page(
    keys: Sequence[str], *, kind: str, next_token: str | None
) -> tuple[list[str], str | None]:
    """The keys (sorted) of one SNS page of 100, and the next token.

    Raises:
        InvalidParameter: a token that is not one this call returned.
    """
    start = 0
    if next_token is not None:
        after = _decode(kind, next_token, InvalidParameter("Invalid parameter: NextToken"))
        start = bisect_right(keys, after)
    chosen = list(keys[start : start + SNS_PAGE_SIZE])
    more = start + SNS_PAGE_SIZE < len(keys)
    return chosen, (_encode(kind, chosen[-1]) if more and chosen else None)
