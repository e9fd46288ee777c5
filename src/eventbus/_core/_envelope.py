"""The JSON envelope SNS wraps a message in when it delivers to SQS (non-raw delivery)."""

from __future__ import annotations

import base64
import hashlib
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from json import JSONEncoder

from ._attributes import MessageAttributeValue, find_invalid_character
from ._queue import CheckedBody

_dumps = JSONEncoder().encode
"""``json.dumps`` with its defaults (ASCII only), without its per-call set-up."""
_dumps_unicode = JSONEncoder(ensure_ascii=False).encode
"""``json.dumps(value, ensure_ascii=False)``, without building an encoder per call."""


class _Second:
    """The last whole second formatted, as (second, text): publishes within a second
    share it, and formatting it is most of a timestamp's cost. One pair, read and
    replaced whole, so threads that share it never see halves of two."""

    __slots__ = ("last",)

    def __init__(self) -> None:
        self.last: tuple[float, str] = (math.nan, "")


_SECOND = _Second()


def iso_timestamp(now: float) -> str:
    """``now`` as SNS writes timestamps: ISO-8601 UTC with milliseconds.

    The same text as ``datetime.fromtimestamp(now, UTC)`` formatted (microseconds
    rounded half to even, as it does), with the seconds part formatted once per
    second.
    """
    if not now >= 0:  # before 1970, or NaN: the plain way
        moment = datetime.fromtimestamp(now, tz=UTC)
        return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"
    fraction, second = math.modf(now)
    micro = round(fraction * 1e6)
    if micro >= 1_000_000:
        second += 1
        micro -= 1_000_000
    cached, text = _SECOND.last
    if cached != second:
        text = f"{datetime.fromtimestamp(second, tz=UTC):%Y-%m-%dT%H:%M:%S}"
        _SECOND.last = (second, text)
    return f"{text}.{micro // 1000:03d}Z"


def _attributes_json(attributes: Mapping[str, MessageAttributeValue]) -> str:
    items = []
    for name, value in attributes.items():
        if value.binary_value is not None:
            text = base64.b64encode(value.binary_value).decode()
        else:
            text = value.string_value or ""
        items.append(
            f'    {_dumps(name)} : {{"Type":{_dumps(value.data_type)},"Value":{_dumps(text)}}}'
        )
    return "{\n" + ",\n".join(items) + "\n  }"


class Envelope:
    """The parts of one published message's envelope that all subscriptions share.

    A FIFO topic's envelope carries ``SequenceNumber`` after ``MessageId`` and no
    signature fields. The body is laid out as AWS lays it out (two-space indent,
    ``"Key" : "Value"``), with the fields in AWS's order. ``Signature`` is a
    stand-in (base64 of a SHA-1 over the signed fields), not an RSA signature: it
    cannot be verified against AWS's certificate, and ``SigningCertURL`` names no
    real certificate.
    """

    __slots__ = ("_head", "_prefix_digest", "_prefix_size", "_tail", "_unsubscribe_prefix")

    def __init__(
        self,
        *,
        region: str,
        message_id: str,
        topic_arn: str,
        message: str,
        subject: str | None,
        timestamp: str,
        attributes: Mapping[str, MessageAttributeValue],
        sequence_number: str | None = None,
    ) -> None:
        lines = ['{\n  "Type" : "Notification"', f'  "MessageId" : {_dumps(message_id)}']
        if sequence_number is not None:
            lines.append(f'  "SequenceNumber" : "{sequence_number}"')
        lines.append(f'  "TopicArn" : {_dumps(topic_arn)}')
        if subject is not None:
            lines.append(f'  "Subject" : {_dumps_unicode(subject)}')
        lines += [
            f'  "Message" : {_dumps_unicode(message)}',
            f'  "Timestamp" : "{timestamp}"',
        ]
        if sequence_number is None:  # FIFO topics do not sign their envelopes
            signed = (
                f"{message}\n{message_id}\n{subject}\nNotification\n{timestamp}\n{topic_arn}"
                if subject
                else f"{message}\n{message_id}\nNotification\n{timestamp}\n{topic_arn}"
            )
            signature = base64.b64encode(
                hashlib.sha1(signed.encode(errors="surrogatepass"), usedforsecurity=False).digest()
            ).decode()
            lines += [
                '  "SignatureVersion" : "1"',
                f'  "Signature" : "{signature}"',
                f'  "SigningCertURL" : "https://sns.{region}.amazonaws.com/'
                'SimpleNotificationService-eventbus-local.pem"',
            ]
        self._head = ",\n".join(lines)
        self._unsubscribe_prefix = (
            f',\n  "UnsubscribeURL" : "https://sns.{region}.amazonaws.com/'
            "?Action=Unsubscribe&SubscriptionArn="
        )
        tail = ""
        if attributes:
            tail = f',\n  "MessageAttributes" : {_attributes_json(attributes)}'
        self._tail = tail + "\n}"
        self._prefix_digest: hashlib._Hash | None = None
        self._prefix_size = -1
        """Bytes of the part before the subscription ARN; -1 before it was checked,
        -2 if it or the tail holds a character SQS refuses."""

    def for_subscription(self, subscription_arn: str) -> str:
        """The envelope body delivered to one subscription."""
        return f'{self._head}{self._unsubscribe_prefix}{subscription_arn}"{self._tail}'

    def checked_body(self, body: str, subscription_arn: str) -> CheckedBody:
        """``CheckedBody(body)`` of ``body = for_subscription(subscription_arn)``.

        The same value, or the same error, at a fraction of the cost: the parts all
        subscriptions share are checked and hashed once per envelope; only the
        subscription's own part is looked at per delivery.
        """
        if self._prefix_size == -1:
            prefix = self._head + self._unsubscribe_prefix
            if find_invalid_character(prefix) or find_invalid_character(self._tail):
                self._prefix_size = -2
            else:
                encoded = prefix.encode()
                self._prefix_size = len(encoded)
                self._prefix_digest = hashlib.md5(encoded, usedforsecurity=False)
        digest = self._prefix_digest
        if digest is None or not (subscription_arn.isascii() and subscription_arn.isprintable()):
            return CheckedBody(body)  # a character SQS refuses: its error, worded alike
        rest = f'{subscription_arn}"{self._tail}'.encode()
        digest = digest.copy()
        digest.update(rest)
        return CheckedBody.trusted(body, self._prefix_size + len(rest), digest.hexdigest())
