"""The envelope's fast paths give what the plain ways give.

``iso_timestamp`` formats each second once; ``Envelope.checked_body`` checks and
hashes the parts all subscriptions share once. Both must be indistinguishable from
``datetime`` formatting and ``CheckedBody`` of the whole body.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eventbus._core._attributes import MessageAttributeValue
from eventbus._core._envelope import Envelope, iso_timestamp
from eventbus._core._errors import EventBusError
from eventbus._core._message import EMPTY_ATTRIBUTES
from eventbus._core._queue import CheckedBody

TOPIC_ARN = "arn:aws:sns:us-east-1:000000000000:orders"
SUBSCRIPTION_ARN = f"{TOPIC_ARN}:5a1c0d8e-4b8e-4f0e-9f62-0c4d3b2a1f00"


def plain_timestamp(now: float) -> str:
    moment = datetime.fromtimestamp(now, tz=UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


@pytest.mark.parametrize(
    "now",
    [
        0.0,
        1_767_225_600.0,
        1_767_225_600.0005,
        1_767_225_600.9995,
        1_767_225_600.9999995,  # rounds up into the next second
        1_767_225_600.9999994,
        1_767_225_599.999_999_7,
        1_767_225_601.123_456_5,
        253_402_300_799.999,  # the last second of 9999
        -1.5,
        -0.000_000_4,
    ],
)
def test_iso_timestamp_matches_datetime_formatting(now: float) -> None:
    iso_timestamp(now - 7.0)  # a different second is cached before
    assert plain_timestamp(now) == iso_timestamp(now)
    assert plain_timestamp(now) == iso_timestamp(now)  # and with its own second cached


@given(st.floats(min_value=0, max_value=4_102_444_800, allow_nan=False))
def test_iso_timestamp_matches_datetime_formatting_anywhere(now: float) -> None:
    assert plain_timestamp(now) == iso_timestamp(now)


def envelope(message: str, subject: str | None = None, attributes: bool = False) -> Envelope:
    return Envelope(
        region="us-east-1",
        message_id="0e5c2c1e-8f0a-4c55-9d1b-6b3f1d2e4a77",
        topic_arn=TOPIC_ARN,
        message=message,
        subject=subject,
        timestamp="2026-01-01T00:00:00.000Z",
        attributes=(
            {
                "kind": MessageAttributeValue("String", string_value="é\ufffe"),
                "blob": MessageAttributeValue("Binary", binary_value=b"\x00\xff"),
            }
            if attributes
            else EMPTY_ATTRIBUTES
        ),
    )


def outcome(make: Callable[..., CheckedBody], *args: str) -> tuple[str, int, str] | tuple[str, str]:
    """What building a CheckedBody gives: its fields, or its error."""
    try:
        checked = make(*args)
    except EventBusError as error:
        return error.code, error.message
    return checked.body, checked.size, checked.md5


MESSAGES = [
    "hello",
    "b" * 1000,
    'snowman ☃, emoji 😀, quote " and backslash \\',
    "control \x01 and \x1f are escaped in JSON",
    "\x7f delete is not escaped",
    "a non-character \ufffe SQS refuses",
    "another \uffff",
    '{"nested": "json"}',
]


@pytest.mark.parametrize("message", MESSAGES)
@pytest.mark.parametrize("subject", [None, "Greetings ☃"])
@pytest.mark.parametrize("attributes", [False, True])
def test_checked_body_is_checked_body_of_the_whole(
    message: str, subject: str | None, attributes: bool
) -> None:
    made = envelope(message, subject, attributes)
    for arn in (SUBSCRIPTION_ARN, f"{TOPIC_ARN}:other", "arn:ü\ufffe"):
        body = made.for_subscription(arn)
        assert outcome(CheckedBody, body) == outcome(made.checked_body, body, arn)


@given(st.text(min_size=1, max_size=200), st.text(max_size=20))
def test_checked_body_is_checked_body_of_the_whole_for_any_text(message: str, arn: str) -> None:
    try:
        message.encode()
        arn.encode()
    except UnicodeEncodeError:
        return  # a publish refuses lone surrogates; ARNs never hold them
    made = envelope(message)
    body = made.for_subscription(arn)
    assert outcome(CheckedBody, body) == outcome(made.checked_body, body, arn)
