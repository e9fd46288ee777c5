"""Between the library's values and the shapes SNS and SQS take and return."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._core._attributes import (
    MessageAttributeValue,
    to_attribute_value,
    validate_sns_attributes,
    validate_sqs_attributes,
)
from .._core._message import ReceivedMessage


def attributes_to_aws(
    attributes: Mapping[str, object] | None, *, sns: bool
) -> dict[str, dict[str, Any]]:
    """Plain values or MessageAttributeValues as AWS's ``MessageAttributes``.

    They are checked by the same rules as on the local backend first, so a bad
    attribute fails with the same error before any call.
    """
    if not attributes:
        return {}
    values = {
        name: to_attribute_value(name, value, allow_array=sns) for name, value in attributes.items()
    }
    if sns:
        validate_sns_attributes(values)
    else:
        validate_sqs_attributes(values)
    out: dict[str, dict[str, Any]] = {}
    for name, value in values.items():
        if value.binary_value is not None:
            out[name] = {"DataType": value.data_type, "BinaryValue": value.binary_value}
        else:
            out[name] = {"DataType": value.data_type, "StringValue": value.string_value}
    return out


def attributes_from_aws(
    attributes: Mapping[str, Mapping[str, Any]] | None,
) -> dict[str, MessageAttributeValue]:
    """AWS's ``MessageAttributes`` of a received message as MessageAttributeValues."""
    if not attributes:
        return {}
    return {
        name: MessageAttributeValue(
            value["DataType"],
            string_value=value.get("StringValue"),
            binary_value=value.get("BinaryValue"),
        )
        for name, value in attributes.items()
    }


def received_from_aws(message: Mapping[str, Any]) -> ReceivedMessage:
    """One message of a ReceiveMessage response."""
    system = {str(k): str(v) for k, v in message.get("Attributes", {}).items()}
    return ReceivedMessage(
        message_id=message["MessageId"],
        receipt_handle=message["ReceiptHandle"],
        body=message["Body"],
        md5_of_body=message["MD5OfBody"],
        message_attributes=attributes_from_aws(message.get("MessageAttributes")),
        md5_of_message_attributes=message.get("MD5OfMessageAttributes"),
        attributes=system,
        receive_count=int(system.get("ApproximateReceiveCount", "1")),
    )


def bool_text(value: bool) -> str:
    """A bool as AWS writes it in attributes."""
    return "true" if value else "false"
