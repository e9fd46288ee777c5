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
    bounded_repr,
    echo,
)

MAX_ATTRIBUTES = 10
MAX_NAME_LENGTH = 256
MAX_TYPE_LENGTH = 256

# XML 1.0 Char: what SQS accepts in a body or a String attribute value.
_INVALID_CHARACTER = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Python's \w is what str.isalnum() calls alphanumeric, and "_".
_NAME_CHARACTER = re.compile(r"[^\w.\-]")
_TYPE = re.compile(r"(String|Number|Binary)(\..+)?", re.DOTALL)


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
            f"Message attribute '{echo(name)}' is a bool; pass 'true'/'false' as a str "
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
        f"Message attribute '{echo(name)}' has a value of type {type(value).__name__}; "
        f"allowed are {allowed} or MessageAttributeValue."
    )


def _number_text(value: int | float | Decimal) -> str:
    if isinstance(value, float):
        return repr(value)
    return str(value)


def check_attribute_name(name: object, error: type[EventBusError]) -> None:
    """Raise ``error`` unless ``name`` follows AWS's rules for message attribute names.

    1-256 letters and digits of any script (what :meth:`str.isalnum` calls
    alphanumeric), ``_``, ``-`` and ``.``; not starting or ending with ``.``, no
    ``..``, not starting with ``AWS.`` or ``Amazon.`` in any case [SQS and SNS
    developer guides, "message attributes"]. The guides say A-Z, a-z and 0-9, but AWS
    accepted the name ``attr.1øßä`` on SendMessage (LocalStack's AWS-validated test
    ``test_send_message_with_invalid_string_attributes``) and words its refusal
    "Invalid non-alphanumeric character"; which non-ASCII characters count as
    alphanumeric to AWS is UNCONFIRMED. The texts are SNS's, recorded from AWS in
    LocalStack's ``test_empty_or_wrong_message_attributes`` snapshot (2024-11-15);
    SQS's are not recorded (UNCONFIRMED), so SQS says the same. The empty-name text is
    SQS's (aws/aws-sdk-php#694); the reserved-prefix text is this library's own.
    """
    if not isinstance(name, str):
        raise error(
            f"The message attribute name must be a str, not {type(name).__name__} "
            f"{bounded_repr(name)}."
        )
    if not name:
        raise error("The request must contain non-empty message attribute name.")
    if len(name) > MAX_NAME_LENGTH:
        raise error(
            "Length of message attribute name must be less than 256 bytes."
            f" (The name has {len(name)} characters; at most {MAX_NAME_LENGTH}.)"
        )
    if name[0] == ".":
        raise error("Invalid message attribute name starting with character '.' was found.")
    if name[-1] == ".":
        raise error("Invalid message attribute name ending with character '.' was found.")
    bad = _NAME_CHARACTER.search(name)
    if bad is not None:
        raise error(
            f"Invalid non-alphanumeric character '#x{ord(bad.group()):X}' was found in the "
            "message attribute name. Can only include alphanumeric characters, hyphens, "
            "underscores, or dots."
        )
    if ".." in name:
        raise error("Message attribute name can not have successive '.' character.")
    if name[:4].lower() == "aws." or name[:7].lower() == "amazon.":
        raise error(
            f"Message attribute name '{name}' is reserved: names starting with 'AWS.' or "
            "'Amazon.' (in any case) are for AWS's own use."
        )


def _check_number(name: str, text: str, error: type[EventBusError]) -> None:
    try:
        number = Decimal(text)
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite():
        raise error(
            f"Message attribute '{name}' of type 'Number' has the value {bounded_repr(text)}, "
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
        _check_value(name, value, _SQS)


def validate_sns_attributes(attributes: Mapping[str, MessageAttributeValue]) -> None:
    """Check SNS message attributes against AWS's rules, with SNS's error texts.

    Raises:
        ParameterValueInvalid: a bad name, type or value.
    """
    for name, value in attributes.items():
        check_attribute_name(name, ParameterValueInvalid)
        _check_value(name, value, _SNS)


@dataclass(frozen=True, slots=True)
class _Texts:
    """How one service words the attribute value errors whose AWS text is known."""

    error: type[EventBusError]
    invalid_type: str
    empty: str
    wrong_field: str
    sns: bool


# SNS: recorded from AWS in LocalStack's ``test_empty_or_wrong_message_attributes`` and
# ``test_message_attributes_prefixes`` snapshots (2023-08-24, 2024-11-15).
_SNS = _Texts(
    ParameterValueInvalid,
    invalid_type=(
        "The message attribute '{name}' has an invalid message attribute type, the set of "
        "supported type prefixes is Binary, Number, and String."
    ),
    empty=(
        "The message attribute '{name}' must contain non-empty message attribute value for "
        "message attribute type '{type}'."
    ),
    wrong_field="The message attribute '{name}' with type '{type}' must use field '{field}'.",
    sns=True,
)
# SQS: the empty-value text is recorded from AWS in LocalStack's AWS-validated
# ``test_send_message_with_empty_string_attribute``; the type text is what SQS answered
# in grafana/k6-jslib-aws#65 (2023). A value in the wrong field has no recorded text:
# SQS reads it as a missing value (UNCONFIRMED), so it gets the empty-value text.
_SQS = _Texts(
    InvalidParameterValue,
    invalid_type=(
        "The type of message (user) attribute '{name}' is invalid. You must use only the "
        "following supported type prefixes: Binary, Number, String."
    ),
    empty="Message (user) attribute '{name}' must contain a non-empty value of type '{type}'.",
    wrong_field=(
        "Message (user) attribute '{name}' must contain a non-empty value of type '{type}'."
        " (A {type} value travels in {field_name}.)"
    ),
    sns=False,
)


def check_data_type(data_type: object) -> bool:
    """Whether ``data_type`` is a valid attribute type: ``String``, ``Number`` or
    ``Binary``, optionally followed by ``.`` and a custom label of at least one
    character, 256 characters in all.

    AWS refused ``String.`` and ``Stringprefixed`` and accepted ``String.prefixed`` and
    ``String.  prefixed.`` (spaces and a trailing dot in the label) on SNS Publish
    (LocalStack's AWS-validated ``test_message_attributes_prefixes``); SQS is held to
    the same rule (its guide documents the same ``Type.label`` form). The label's
    characters are limited to those a message body may hold (UNCONFIRMED).
    """
    return (
        isinstance(data_type, str)
        and len(data_type) <= MAX_TYPE_LENGTH
        and _TYPE.fullmatch(data_type) is not None
        and find_invalid_character(data_type) is None
    )


def _check_value(name: str, value: MessageAttributeValue, texts: _Texts) -> None:
    error = texts.error
    data_type = value.data_type
    if not check_data_type(data_type):
        context = (
            f" (The type {bounded_repr(data_type)} is not String, Number or Binary, "
            "optionally followed by '.' and a label, at most 256 characters in all.)"
        )
        raise error(texts.invalid_type.format(name=name) + context)
    base = value.base_type
    field = "Binary" if base == "Binary" else "String"
    present = value.binary_value if base == "Binary" else value.string_value
    other = value.string_value if base == "Binary" else value.binary_value
    if other is not None:
        raise error(
            texts.wrong_field.format(
                name=name,
                type=data_type,
                field=field,
                field_name="binary_value" if field == "Binary" else "string_value",
            )
        )
    if not present:
        raise error(texts.empty.format(name=name, type=data_type))
    if base == "Binary":
        return
    text = value.string_value
    assert text is not None
    if base == "Number":
        _check_number(name, text, error)
    elif texts.sns and data_type == "String.Array":
        _check_string_array(name, text, error)
    bad = find_invalid_character(text)
    if bad is not None:
        message = f"Message attribute '{name}' contains the invalid character U+{ord(bad):04X}."
        if texts.sns:
            raise error(message)
        raise InvalidMessageContents(message)


def _check_string_array(name: str, text: str, error: type[EventBusError]) -> None:
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        # RecursionError: arrays nested deeper than the parser's recursion limit, which
        # break the "array of scalars" rule anyway.
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
