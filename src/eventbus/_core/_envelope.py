"""The JSON envelope SNS wraps a message in when it delivers to SQS (non-raw delivery)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from json import dumps

from ._attributes import MessageAttributeValue


def iso_timestamp(now: float) -> str:
    """``now`` as SNS writes timestamps: ISO-8601 UTC with milliseconds."""
    moment = datetime.fromtimestamp(now, tz=UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def _attributes_json(attributes: Mapping[str, MessageAttributeValue]) -> str:
    items = []
    for name, value in attributes.items():
        if value.binary_value is not None:
            text = base64.b64encode(value.binary_value).decode()
        else:
            text = value.string_value or ""
        items.append(
            f'    {dumps(name)} : {{"Type":{dumps(value.data_type)},"Value":{dumps(text)}}}'
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

    __slots__ = ("_head", "_tail", "_unsubscribe_prefix")

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
        signed = "\n".join(
            [
                message,
                message_id,
                *(x for x in [subject] if x),
                "Notification",
                timestamp,
                topic_arn,
            ]
        )
        signature = base64.b64encode(
            hashlib.sha1(signed.encode(errors="surrogatepass"), usedforsecurity=False).digest()
        ).decode()
        lines = ['{\n  "Type" : "Notification"', f'  "MessageId" : {dumps(message_id)}']
        if sequence_number is not None:
            lines.append(f'  "SequenceNumber" : "{sequence_number}"')
        lines.append(f'  "TopicArn" : {dumps(topic_arn)}')
        if subject is not None:
            lines.append(f'  "Subject" : {dumps(subject, ensure_ascii=False)}')
        lines += [
            f'  "Message" : {dumps(message, ensure_ascii=False)}',
            f'  "Timestamp" : "{timestamp}"',
        ]
        if sequence_number is None:  # FIFO topics do not sign their envelopes
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

    def for_subscription(self, subscription_arn: str) -> str:
        """The envelope body delivered to one subscription."""
        return f'{self._head}{self._unsubscribe_prefix}{subscription_arn}"{self._tail}'
