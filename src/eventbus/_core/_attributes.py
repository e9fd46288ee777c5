"""Message attributes: the value type, AWS's validation rules and its MD5 digest.

SQS and SNS share the value type but not all the rules: SNS knows ``String.Array``
and reports mistakes with other codes. Both are here so the rules sit side by side.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from ._errors import (
    EventBusError,
    InvalidMessageContents,
    InvalidParameterValue,
    ParameterValueInvalid,
)

MAX_ATTRIBUTES = 10
MAX_NAME_LENGTH = 256
MAX_TYPE_LENGTH = 256

# XML 1.0 Char: what SQS accepts in a body or a String attribute value.
_INVALID_CHARACTER = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,256}")
_TYPE = re.compile(r"(String|Number|Binary)(\.[A-Za-z0-9_.\-]*)?")


@dataclass(frozen=True, slots=True)
class MessageAttributeValue:
    """One message attribute, as SQS and SNS carry it.

    ``data_type`` is ``String``, ``Number`` or ``Binary``, optionally followed by a
    custom label (``Number.float``, ``Binary.png``); SNS also knows ``String.Array``.
    String, Number and String.Array values travel in ``string_value``, Binary ones in
    ``binary_value``.
    """

    data_type: str
    string_value: str | None = None
    binary_value: bytes | None = None

    @property
    def base_type(self) -> str:
        """The type without its custom label: ``String``, ``Number`` or ``Binary``."""
        return self.data_type.split(".", 1)[0]

    def size(self) -> int:
        """Bytes this value adds to a message's size: the type and the value."""
        value = self.binary_value if self.binary_value is not None else b""
        text = self.string_value.encode() if self.string_value is not None else b""
        return len(self.data_type.encode()) + len(value) + len(text)


def find_invalid_character(text: str) -> str | None:
    """Return the first character SQS refuses in ``text``, or None."""
    match = _INVALID_CHARACTER.search(text)
    return match.group() if match else None


def check_body_characters(body: str) -> None:
    """Raise InvalidMessageContents if the body holds a character SQS refuses."""
    bad = find_invalid_character(body)
    if bad is not None:
        raise InvalidMessageContents(
            f"Invalid characters found: the body contains U+{ord(bad):04X}; allowed "
            "are #x9, #xA, #xD, #x20-#xD7FF, #xE000-#xFFFD and #x10000-#x10FFFF."
        )


def to_attribute_value(name: str, value: object, *, allow_array: bool) -> MessageAttributeValue:
    """Turn a plain Python value into a MessageAttributeValue.

    ``str`` gives String, ``int``/``float``/``Decimal`` give Number, ``bytes`` gives
    Binary and (on SNS) a list gives String.Array. A MessageAttributeValue passes
    through unchanged.
    """
    if isinstance(value, MessageAttributeValue):
        return value
    if isinstance(value, bool):
        raise InvalidParameterValue(
            f"Message attribute '{name}' is a bool; pass 'true'/'false' as a str "
            "or 1/0 as a number."
        )
    if isinstance(value, str):
        return MessageAttributeValue("String", string_value=value)
    if isinstance(value, int | float | Decimal):
        return MessageAttributeValue("Number", string_value=_number_text(value))
    if isinstance(value, bytes | bytearray | memoryview):
        return MessageAttributeValue("Binary", binary_value=bytes(value))
    if allow_array and isinstance(value, list | tuple):
        return MessageAttributeValue("String.Array", string_value=json.dumps(list(value)))
    allowed = "str, int, float, Decimal, bytes"
    if allow_array:
        allowed += ", list"
    raise InvalidParameterValue(
        f"Message attribute '{name}' has a value of type {type(value).__name__}; "
        f"allowed are {allowed} or MessageAttributeValue."
    )


def _number_text(value: int | float | Decimal) -> str:
    if isinstance(value, float):
        return repr(value)
    return str(value)


def check_attribute_name(name: str, error: type[EventBusError]) -> None:
    """Raise ``error`` unless ``name`` follows the AWS attribute name rules."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise error(
            f"Message attribute name '{name}' is invalid: it must be 1-256 characters "
            "of A-Z, a-z, 0-9, '_', '-' and '.'."
        )
    lowered = name.lower()
    if lowered.startswith(("aws.", "amazon.")):
        raise error(
            f"Message attribute name '{name}' is invalid: names starting with "
            "'AWS.' or 'Amazon.' are reserved."
        )
    if name.startswith(".") or name.endswith(".") or ".." in name:
        raise error(
            f"Message attribute name '{name}' is invalid: it must not start or end "
            "with '.' nor hold '..'."
        )


def _check_number(name: str, text: str, error: type[EventBusError]) -> None:
    try:
        number = Decimal(text)
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite():
        raise error(
            f"Message attribute '{name}' of type 'Number' has the value {text!r}, "
            "which is not a number."
        )
    digits = number.as_tuple().digits
    significant = len(digits) - (len(digits) - len(bytes(digits).rstrip(b"\x00")))
    if significant > 38 or (number != 0 and not (-128 <= number.adjusted() <= 126)):
        raise error(
            f"Message attribute '{name}' of type 'Number' is out of range: at most 38 "
            "significant digits, magnitude between 10^-128 and 10^+126."
        )


def validate_sqs_attributes(
    attributes: Mapping[str, MessageAttributeValue],
) -> None:
    """Check SQS message attributes against AWS's rules.

    Raises:
        InvalidParameterValue: too many attributes, a bad name, type or value.
        InvalidMessageContents: a String value holds a character SQS refuses.
    """
    if len(attributes) > MAX_ATTRIBUTES:
        raise InvalidParameterValue(
            f"Number of message attributes [{len(attributes)}] exceeds the allowed "
            f"maximum [{MAX_ATTRIBUTES}]."
        )
    for name, value in attributes.items():
        check_attribute_name(name, InvalidParameterValue)
        _check_value(name, value, InvalidParameterValue, allow_array=False)


def validate_sns_attributes(attributes: Mapping[str, MessageAttributeValue]) -> None:
    """Check SNS message attributes against AWS's rules.

    Raises:
        ParameterValueInvalid: a bad name, type or value.
    """
    for name, value in attributes.items():
        check_attribute_name(name, ParameterValueInvalid)
        _check_value(name, value, ParameterValueInvalid, allow_array=True)


def _check_value(
    name: str,
    value: MessageAttributeValue,
    error: type[EventBusError],
    *,
    allow_array: bool,
) -> None:
    data_type = value.data_type
    if (
        not isinstance(data_type, str)
        or len(data_type) > MAX_TYPE_LENGTH
        or not _TYPE.fullmatch(data_type)
    ):
        raise error(
            f"Message attribute '{name}' has the data type {data_type!r}; it must be "
            "String, Number or Binary, optionally followed by '.label' (at most 256 "
            "characters)."
        )
    base = value.base_type
    if base == "Binary":
        if value.string_value is not None or not value.binary_value:
            raise error(
                f"Message attribute '{name}' must contain a non-empty value of type "
                "'Binary' in binary_value."
            )
        return
    if value.binary_value is not None or not value.string_value:
        raise error(
            f"Message attribute '{name}' must contain a non-empty value of type "
            f"'{base}' in string_value."
        )
    text = value.string_value
    if base == "Number":
        _check_number(name, text, error)
    elif allow_array and data_type == "String.Array":
        _check_string_array(name, text, error)
    bad = find_invalid_character(text)
    if bad is not None:
        if error is InvalidParameterValue:
            raise InvalidMessageContents(
                f"Message attribute '{name}' contains the invalid character U+{ord(bad):04X}."
            )
        raise error(f"Message attribute '{name}' contains the invalid character U+{ord(bad):04X}.")


def _check_string_array(name: str, text: str, error: type[EventBusError]) -> None:
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if not isinstance(parsed, list) or any(isinstance(item, dict | list) for item in parsed):
        raise error(
            f"Message attribute '{name}' of type 'String.Array' must hold a JSON array "
            "of strings, numbers, true, false or null."
        )


def attributes_size(attributes: Mapping[str, MessageAttributeValue]) -> int:
    """Bytes the attributes add to a message: every name, type and value."""
    return sum(len(name.encode()) + value.size() for name, value in attributes.items())


def md5_of_body(body: str) -> str:
    """The hex MD5 of the UTF-8 body, as SQS reports it."""
    return hashlib.md5(body.encode(), usedforsecurity=False).hexdigest()


def md5_of_attributes(attributes: Mapping[str, MessageAttributeValue]) -> str | None:
    """The MD5 of message attributes the way AWS computes it, or None without any.

    Sorted by name; for each: the name, the data type and the value, each preceded
    by its length as 4 big-endian bytes, with one transport byte (1 for String and
    Number, 2 for Binary) before the value.
    """
    if not attributes:
        return None
    digest = hashlib.md5(usedforsecurity=False)
    pack = struct.Struct(">I").pack
    for name in sorted(attributes):
        value = attributes[name]
        encoded_name = name.encode()
        encoded_type = value.data_type.encode()
        digest.update(pack(len(encoded_name)) + encoded_name)
        digest.update(pack(len(encoded_type)) + encoded_type)
        if value.binary_value is not None:
            digest.update(b"\x02" + pack(len(value.binary_value)) + value.binary_value)
        else:
            data = (value.string_value or "").encode()
            digest.update(b"\x01" + pack(len(data)) + data)
    return digest.hexdigest()
