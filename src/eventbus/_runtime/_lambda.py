"""What a Lambda handler receives: the SQS event and the context object.

The event has the shape the Lambda SQS event source mapping sends (recorded on
AWS): system attributes as strings, lowerCamelCase message attributes whose two
list fields are always present and empty, ``md5OfMessageAttributes`` only when
the message has attributes, ``eventSource``, ``eventSourceARN`` and ``awsRegion``.
Every system attribute the message carries is passed on in ``attributes``
(whether AWS passes ``DeadLetterQueueSourceArn`` there is UNCONFIRMED; we do).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from typing import Any

from .._core._message import ReceivedMessage
from .._core._names import LOCAL_ACCOUNT_ID


def sqs_record(message: ReceivedMessage, queue_arn: str, region: str) -> dict[str, Any]:
    """One record of an SQS event, as Lambda builds it from a received message.

    The common case, a message without attributes, is one dict display; the keys
    are in the order Lambda sends them either way.
    """
    if not message.message_attributes:
        return {
            "messageId": message.message_id,
            "receiptHandle": message.receipt_handle,
            "body": message.body,
            "attributes": dict(message.attributes),
            "messageAttributes": {},
            "md5OfBody": message.md5_of_body,
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn,
            "awsRegion": region,
        }
    attributes: dict[str, Any] = {}
    for name, value in message.message_attributes.items():
        if value.binary_value is not None:
            attributes[name] = {
                "binaryValue": base64.b64encode(value.binary_value).decode(),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value.data_type,
            }
        else:
            attributes[name] = {
                "stringValue": value.string_value,
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value.data_type,
            }
    return {
        "messageId": message.message_id,
        "receiptHandle": message.receipt_handle,
        "body": message.body,
        "attributes": dict(message.attributes),
        "messageAttributes": attributes,
        "md5OfMessageAttributes": message.md5_of_message_attributes,
        "md5OfBody": message.md5_of_body,
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def sqs_event(messages: Sequence[ReceivedMessage], queue_arn: str, region: str) -> dict[str, Any]:
    """The event of one invocation: ``{"Records": [...]}``."""
    return {"Records": [sqs_record(m, queue_arn, region) for m in messages]}


class LambdaContext:
    """The context object a Lambda handler receives, with the bus clock's time.

    Attributes:
        function_name: the function's name.
        function_version: always ``$LATEST``.
        invoked_function_arn: the function's ARN.
        memory_limit_in_mb: the configured memory (informative only).
        aws_request_id: a new id for each invocation.
        log_group_name: ``/aws/lambda/<function_name>``.
        log_stream_name: a stream name in AWS's format.
    """

    __slots__ = (
        "_deadline",
        "_now",
        "aws_request_id",
        "client_context",
        "function_name",
        "function_version",
        "identity",
        "invoked_function_arn",
        "log_group_name",
        "log_stream_name",
        "memory_limit_in_mb",
    )

    def __init__(
        self,
        *,
        function_name: str,
        region: str,
        request_id: str,
        memory_limit_in_mb: int,
        deadline: float,
        now: Callable[[], float],
    ) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = (
            f"arn:aws:lambda:{region}:{LOCAL_ACCOUNT_ID}:function:{function_name}"
        )
        self.memory_limit_in_mb = memory_limit_in_mb
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = f"2026/01/01/[$LATEST]{request_id.replace('-', '')}"
        self.identity = None
        self.client_context = None
        self._deadline = deadline
        self._now = now

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function times out, on the bus clock."""
        return max(0, int((self._deadline - self._now()) * 1000))

    def __repr__(self) -> str:
        return f"<LambdaContext {self.function_name} {self.aws_request_id}>"
