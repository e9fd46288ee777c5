"""Message attributes: AWS's MD5 digests, the name/type/value rules and plain-value conversion.

Known digests come from AWS's own documentation (the Lambda SQS event example) and
from AWS SDK checksum tests; one more is recomputed here step by step from the
algorithm the SQS developer guide describes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from decimal import Decimal

import pytest

from eventbus._core._attributes import (
    MessageAttributeValue,
    attributes_size,
    md5_of_attributes,
    md5_of_body,
    to_attribute_value,
    validate_sns_attributes,
    validate_sqs_attributes,
)
from eventbus._core._broker import Broker
from eventbus._core._errors import EventBusError
from eventbus._core._ids import CountingIds
from eventbus._core._message import QueueStatistics
from eventbus._core._settings import QueueSettings, TopicSettings
from eventbus._core._topic import TopicMachine

T0 = 1_767_225_600.0
V = MessageAttributeValue


def string(value: str, data_type: str = "String") -> MessageAttributeValue:
    """A String (or labelled String) attribute."""
    return V(data_type, string_value=value)


def number(value: str, data_type: str = "Number") -> MessageAttributeValue:
    """A Number attribute (sent as text)."""
    return V(data_type, string_value=value)


def binary(value: bytes, data_type: str = "Binary") -> MessageAttributeValue:
    """A Binary attribute."""
    return V(data_type, binary_value=value)


def sqs_code(attributes: Mapping[str, MessageAttributeValue]) -> str | None:
    """The error code SQS validation gives, or None when the attributes are valid."""
    try:
        validate_sqs_attributes(attributes)
    except EventBusError as error:
        return error.code
    return None


def sns_code(attributes: Mapping[str, MessageAttributeValue]) -> str | None:
    """The error code SNS validation gives, or None when the attributes are valid."""
    try:
        validate_sns_attributes(attributes)
    except EventBusError as error:
        return error.code
    return None


def aws_md5_by_hand(attributes: list[tuple[str, str, str | bytes]]) -> str:
    """AWS's MD5OfMessageAttributes, written out from the developer guide, step by step.

    1. Sort the attributes by name, ascending.
    2. For each: the name's length as 4 big-endian bytes, then the UTF-8 name;
       the data type's length (4 bytes) and the UTF-8 data type;
       one transport byte, 1 for String/Number and 2 for Binary;
       the value's length (4 bytes) and the value (UTF-8 text, or raw bytes).
    3. MD5 over the concatenation, as lowercase hex.
    """
    buffer = bytearray()
    for name, data_type, value in sorted(attributes, key=lambda item: item[0]):
        name_bytes = name.encode("utf-8")
        buffer += len(name_bytes).to_bytes(4, "big")
        buffer += name_bytes
        type_bytes = data_type.encode("utf-8")
        buffer += len(type_bytes).to_bytes(4, "big")
        buffer += type_bytes
        if isinstance(value, bytes):
            buffer += bytes([2])
            value_bytes = value
        else:
            buffer += bytes([1])
            value_bytes = value.encode("utf-8")
        buffer += len(value_bytes).to_bytes(4, "big")
        buffer += value_bytes
    return hashlib.md5(bytes(buffer), usedforsecurity=False).hexdigest()


# ---------------------------------------------------------------------------- MD5


def test_md5_of_body_hello_is_the_known_digest() -> None:
    """MD5OfBody of 'hello' is 5d41402abc4b2a76b9719d911017c592."""
    assert "5d41402abc4b2a76b9719d911017c592" == md5_of_body("hello")


def test_md5_of_body_hashes_utf8_bytes() -> None:
    """A non-ASCII body is hashed as UTF-8: MD5('é') is MD5(b'\\xc3\\xa9')."""
    latin1 = hashlib.md5(b"\xe9", usedforsecurity=False).hexdigest()

    assert hashlib.md5(b"\xc3\xa9", usedforsecurity=False).hexdigest() == md5_of_body("é")
    assert latin1 != md5_of_body("é")


def test_md5_of_attributes_matches_the_aws_lambda_documentation_example() -> None:
    """AWS's SQS event example (Title, Author, WeeksOn) has md5 d25a6aea97eb8f585bfa92d314504a92."""
    attributes = {
        "Title": string("The Whistler"),
        "Author": string("John Grisham"),
        "WeeksOn": number("6"),
    }

    assert "d25a6aea97eb8f585bfa92d314504a92" == md5_of_attributes(attributes)


@pytest.mark.parametrize(
    ("attributes", "digest"),
    [
        ({"SellerName": string("Example Store")}, "cd28f3b68aeee4b2eac9c66f2f694b58"),
        (
            {"ordinal": number("1"), "category": string("test")},
            "d21ae90c49061e927f57df5f5d72be1f",
        ),
    ],
    ids=["one-string", "number-and-string"],
)
def test_md5_of_attributes_matches_sdk_checksum_vectors(
    attributes: dict[str, MessageAttributeValue], digest: str
) -> None:
    """Digests used by AWS SDK checksum tests are reproduced."""
    assert digest == md5_of_attributes(attributes)


def test_md5_of_attributes_matches_the_algorithm_written_out_by_hand() -> None:
    """Mixed types, custom labels, binary and non-ASCII text follow the documented algorithm."""
    raw: list[tuple[str, str, str | bytes]] = [
        ("zeta", "String", "last"),
        ("alpha", "Number.float", "3.14"),
        ("image", "Binary.png", b"\x89PNG\x00\xff"),
        ("name", "String.utf8", "naïve ☃ \U0001f600"),
        ("Upper", "String", "sorts before lower-case"),
    ]
    attributes = {
        name: binary(value, data_type) if isinstance(value, bytes) else string(value, data_type)
        for name, data_type, value in raw
    }

    assert aws_md5_by_hand(raw) == md5_of_attributes(attributes)


def test_md5_of_attributes_does_not_depend_on_insertion_order() -> None:
    """Attributes are sorted by name before hashing."""
    forward = {"a": string("1"), "b": string("2"), "c": number("3")}
    backward = {"c": number("3"), "b": string("2"), "a": string("1")}

    assert md5_of_attributes(forward) == md5_of_attributes(backward)


def test_md5_of_attributes_distinguishes_binary_from_string_transport() -> None:
    """Same type name and bytes, but Binary transport (2) differs from String (1)."""
    as_string = md5_of_attributes({"x": string("abc", "Binary")})
    as_binary = md5_of_attributes({"x": binary(b"abc")})

    assert aws_md5_by_hand([("x", "Binary", b"abc")]) == as_binary
    assert as_string != as_binary


def test_md5_of_attributes_includes_the_custom_type_label() -> None:
    """Number and Number.float with the same value give different digests."""
    plain = md5_of_attributes({"x": number("1")})
    labelled = md5_of_attributes({"x": number("1", "Number.float")})

    assert aws_md5_by_hand([("x", "Number.float", "1")]) == labelled
    assert plain != labelled


def test_md5_of_no_attributes_is_none() -> None:
    """Without attributes there is no MD5OfMessageAttributes."""
    assert md5_of_attributes({}) is None


def test_send_returns_the_same_attribute_digest_the_receive_carries() -> None:
    """SendMessage's and ReceiveMessage's MD5OfMessageAttributes agree with the AWS vector."""
    broker = Broker(region="us-east-1", ids=CountingIds())
    queue = broker.create_queue("books", QueueSettings(), now=T0)

    sent = queue.send(
        "{}",
        now=T0,
        message_attributes={"Title": "The Whistler", "Author": "John Grisham", "WeeksOn": 6},
    )
    (got,) = broker.receive(queue, now=T0)

    assert "d25a6aea97eb8f585bfa92d314504a92" == sent.md5_of_message_attributes
    assert "d25a6aea97eb8f585bfa92d314504a92" == got.md5_of_message_attributes


# ---------------------------------------------------------------------- names


@pytest.mark.parametrize(
    "name",
    ["a", "x" * 256, "a.b", "A-b_c.9", "AWSx", "Amazonia", "aws-x", "a.b.c", "é", "名前"],
)
def test_valid_attribute_names_are_accepted(name: str) -> None:
    """Names of 1-256 letters, digits, _ - . that break no other rule are accepted."""
    assert (None, None) == (sqs_code({name: string("v")}), sns_code({name: string("v")}))


@pytest.mark.parametrize(
    "name",
    [
        "AWS.x",
        "aws.x",
        "Aws.x",
        "aWs.x",
        "Amazon.x",
        "amazon.x",
        "AMAZON.x",
        ".x",
        "x.",
        "a..b",
        "x" * 257,
        "",
        "a b",
        "a/b",
        "a:b",
    ],
    ids=[
        "AWS.",
        "aws.",
        "Aws.",
        "aWs.",
        "Amazon.",
        "amazon.",
        "AMAZON.",
        "leading-dot",
        "trailing-dot",
        "double-dot",
        "257",
        "empty",
        "space",
        "slash",
        "colon",
    ],
)
def test_invalid_attribute_names_are_refused(name: str) -> None:
    """Reserved prefixes in any case, dot rules, length and characters: refused."""
    assert ("InvalidParameterValue", "ParameterValueInvalid") == (
        sqs_code({name: string("v")}),
        sns_code({name: string("v")}),
    )


def test_aws_accepts_attribute_names_with_letters_outside_ascii() -> None:
    """AWS accepted the name ``attr.1øßä`` on SendMessage (LocalStack, AWS-validated)."""
    broker = Broker(region="us-east-1", ids=CountingIds())
    queue = broker.create_queue("q", QueueSettings(), now=T0)

    queue.send("x", now=T0, message_attributes={"attr.1øßä": "Valida"})
    publication = topic().prepare_publish(
        "x",
        subject=None,
        message_attributes={"attr.1øßä": "Valida"},
        message_group_id=None,
        message_deduplication_id=None,
    )

    [message] = queue.receive(now=T0, max_messages=10)
    assert {"attr.1øßä": string("Valida")} == message.message_attributes
    assert {"attr.1øßä": string("Valida")} == publication.attributes


def topic() -> TopicMachine:
    """A standard topic's machine, to validate publishes with."""
    return TopicMachine(
        "t", "arn:aws:sns:us-east-1:000000000000:t", TopicSettings(), region="us-east-1"
    )


# SNS's texts, recorded from AWS in LocalStack's test_empty_or_wrong_message_attributes
# and test_message_attributes_prefixes snapshots.
SNS_TEXTS = [
    (
        {"a" * 257: string("123")},
        "Length of message attribute name must be less than 256 bytes.",
    ),
    (
        {"a^*?": string("123")},
        "Invalid non-alphanumeric character '#x5E' was found in the message attribute name. "
        "Can only include alphanumeric characters, hyphens, underscores, or dots.",
    ),
    (
        {".abc": string("123")},
        "Invalid message attribute name starting with character '.' was found.",
    ),
    (
        {"abc.": string("123")},
        "Invalid message attribute name ending with character '.' was found.",
    ),
    ({"a..bc": string("123")}, "Message attribute name can not have successive '.' character."),
    (
        {"attr1": string("")},
        "The message attribute 'attr1' must contain non-empty message attribute value for "
        "message attribute type 'String'.",
    ),
    (
        {"attr1": binary(b"")},
        "The message attribute 'attr1' must contain non-empty message attribute value for "
        "message attribute type 'Binary'.",
    ),
    (
        {"attr1": V("String", binary_value=b"123")},
        "The message attribute 'attr1' with type 'String' must use field 'String'.",
    ),
    (
        {"attr1": V("Number", binary_value=b"123")},
        "The message attribute 'attr1' with type 'Number' must use field 'String'.",
    ),
    (
        {"attr1": V("Binary", string_value="123")},
        "The message attribute 'attr1' with type 'Binary' must use field 'Binary'.",
    ),
    (
        {"attr1": V("InvalidType", string_value="123")},
        "The message attribute 'attr1' has an invalid message attribute type, the set of "
        "supported type prefixes is Binary, Number, and String.",
    ),
    (
        {"attr1": V("String.", string_value="prefixed-1")},
        "The message attribute 'attr1' has an invalid message attribute type, the set of "
        "supported type prefixes is Binary, Number, and String.",
    ),
    (
        {"attr1": V("Stringprefixed", string_value="prefixed-1")},
        "The message attribute 'attr1' has an invalid message attribute type, the set of "
        "supported type prefixes is Binary, Number, and String.",
    ),
]


@pytest.mark.parametrize(("attributes", "text"), SNS_TEXTS)
def test_sns_publish_attribute_errors_use_sns_texts(
    attributes: dict[str, MessageAttributeValue], text: str
) -> None:
    """Publish refuses bad attributes with SNS's own AWS text first (not SQS's)."""
    with pytest.raises(EventBusError) as caught:
        topic().prepare_publish(
            "test message",
            subject=None,
            message_attributes=attributes,
            message_group_id=None,
            message_deduplication_id=None,
        )

    assert "ParameterValueInvalid" == caught.value.code
    assert caught.value.message.startswith(text)


def test_sqs_empty_string_attribute_uses_the_aws_text() -> None:
    """SQS's text for an empty String value, recorded from AWS (LocalStack, validated)."""
    with pytest.raises(EventBusError) as caught:
        validate_sqs_attributes({"ErrorDetails": string("")})

    assert "InvalidParameterValue" == caught.value.code
    assert (
        "Message (user) attribute 'ErrorDetails' must contain a non-empty value of type "
        "'String'." == caught.value.message
    )


def test_sqs_invalid_type_uses_the_aws_text() -> None:
    """SQS's text for a type without a known prefix, then what is allowed."""
    with pytest.raises(EventBusError) as caught:
        validate_sqs_attributes({"my-attribute": V("string", string_value="v")})

    assert caught.value.message.startswith(
        "The type of message (user) attribute 'my-attribute' is invalid. You must use only "
        "the following supported type prefixes: Binary, Number, String."
    )


def test_a_refused_attribute_name_sends_nothing() -> None:
    """A send with a reserved attribute name changes nothing in the queue."""
    broker = Broker(region="us-east-1", ids=CountingIds())
    queue = broker.create_queue("q", QueueSettings(), now=T0)

    with pytest.raises(EventBusError) as caught:
        queue.send("x", now=T0, message_attributes={"AWS.Trace": "v"})

    assert "InvalidParameterValue" == caught.value.code
    assert QueueStatistics(0, 0, 0) == queue.counts(now=T0)


# ---------------------------------------------------------------------- types


@pytest.mark.parametrize(
    "value",
    [
        string("v"),
        number("1"),
        binary(b"\x00"),
        number("1.5", "Number.float"),
        binary(b"\x89PNG", "Binary.png"),
        string("v", "String.x-y_z"),
        string("v", "String." + "x" * 249),
        string("prefixed-1", "String.  prefixed."),
        number("1", "Number.a b/c"),
        binary(b"\x00", "Binary.ø"),
    ],
    ids=[
        "String",
        "Number",
        "Binary",
        "Number.float",
        "Binary.png",
        "String.label",
        "type-256",
        "spaces-and-trailing-dot",
        "space-and-slash",
        "non-ascii",
    ],
)
def test_valid_types_including_custom_labels_are_accepted(value: MessageAttributeValue) -> None:
    """String, Number, Binary and each with any custom '.label' (type up to 256) are accepted.

    AWS accepted ``String.  prefixed.`` on Publish (LocalStack, AWS-validated).
    """
    assert (None, None) == (sqs_code({"a": value}), sns_code({"a": value}))


@pytest.mark.parametrize(
    "data_type",
    [
        "string",
        "STRING",
        "Str",
        "Float",
        "Number float",
        "StringX",
        "",
        "String." + "x" * 250,
        "String.",
        "Number.\x00",
    ],
    ids=[
        "lower",
        "upper",
        "short",
        "float",
        "space",
        "no-dot",
        "empty",
        "type-257",
        "empty-label",
        "control-character",
    ],
)
def test_invalid_types_are_refused(data_type: str) -> None:
    """Types are case-sensitive, start with String/Number/Binary and are at most 256 long."""
    value = V(data_type, string_value="1")

    assert ("InvalidParameterValue", "ParameterValueInvalid") == (
        sqs_code({"a": value}),
        sns_code({"a": value}),
    )


# --------------------------------------------------------------------- values


@pytest.mark.parametrize(
    "value",
    [string(""), number(""), binary(b""), V("String"), V("Binary")],
    ids=["empty-string", "empty-number", "empty-binary", "no-string", "no-binary"],
)
def test_empty_values_are_refused(value: MessageAttributeValue) -> None:
    """A value must be non-empty (SQS: InvalidParameterValue)."""
    assert "InvalidParameterValue" == sqs_code({"a": value})


def test_empty_string_message_names_the_attribute() -> None:
    """The error says which attribute needs a non-empty value of which type."""
    with pytest.raises(EventBusError) as caught:
        validate_sqs_attributes({"X": string("")})

    assert "'X' must contain a non-empty value of type 'String'" in caught.value.message


@pytest.mark.parametrize(
    "value",
    [V("String", binary_value=b"x"), V("Binary", string_value="x"), V("Number", binary_value=b"1")],
    ids=["string-in-binary", "binary-in-string", "number-in-binary"],
)
def test_value_in_the_wrong_field_is_refused(value: MessageAttributeValue) -> None:
    """String/Number values travel in string_value, Binary ones in binary_value."""
    assert ("InvalidParameterValue", "ParameterValueInvalid") == (
        sqs_code({"a": value}),
        sns_code({"a": value}),
    )


@pytest.mark.parametrize(
    "text",
    [
        "6",
        "-1.5",
        "1e10",
        "0",
        "0.000001",
        "1" * 38,
        "1e126",
        "1e-128",
        "-0",
        "+7",
    ],
)
def test_valid_numbers_are_accepted(text: str) -> None:
    """Integers, decimals, exponents; up to 38 digits; magnitude 10^-128 to 10^+126."""
    assert sqs_code({"n": number(text)}) is None


@pytest.mark.parametrize(
    "text",
    ["abc", "1,5", "NaN", "Infinity", "-inf", "1e127", "1e-129", "1" * 39, " ", "0x10"],
    ids=[
        "word",
        "comma",
        "nan",
        "inf",
        "minus-inf",
        "1e127",
        "1e-129",
        "39-digits",
        "blank",
        "hex",
    ],
)
def test_invalid_numbers_are_refused(text: str) -> None:
    """Non-numbers, over 38 significant digits or out of 10^-128..10^+126: refused."""
    assert ("InvalidParameterValue", "ParameterValueInvalid") == (
        sqs_code({"n": number(text)}),
        sns_code({"n": number(text)}),
    )


@pytest.mark.parametrize(
    "text",
    ["1." + "0" * 40, "0" * 40 + "1", "0" * 20 + "1" * 38 + ".0000"],
    ids=["trailing-zeros", "leading-zeros", "both"],
)
def test_leading_and_trailing_zeros_do_not_count_toward_the_38_digits(text: str) -> None:
    """SQS trims leading and trailing zeros, so they are not digits of precision."""
    assert sqs_code({"n": number(text)}) is None


def test_ten_attributes_are_accepted_and_eleven_refused() -> None:
    """At most 10 message attributes per SQS message."""
    ten = {f"a{i}": string("v") for i in range(10)}
    eleven = {f"a{i}": string("v") for i in range(11)}

    assert (None, "InvalidParameterValue") == (sqs_code(ten), sqs_code(eleven))


@pytest.mark.parametrize(
    "bad", ["\x00", "\x08", "\ufffe", "\ud800"], ids=["nul", "backspace", "fffe", "surrogate"]
)
def test_string_value_with_an_invalid_character_is_refused(bad: str) -> None:
    """String values follow the body's character rules (SQS: InvalidMessageContents)."""
    value = string(f"a{bad}b")

    assert ("InvalidMessageContents", "ParameterValueInvalid") == (
        sqs_code({"s": value}),
        sns_code({"s": value}),
    )


def test_attribute_size_counts_name_type_and_value_bytes() -> None:
    """Size is the UTF-8 bytes of the name, the type and the value (raw bytes for Binary)."""
    attributes = {"a": string("xyz"), "é": binary(b"\x00\x01", "Binary.x")}

    assert (1 + 6 + 3) + (2 + 8 + 2) == attributes_size(attributes)


# ----------------------------------------------------------- plain-value conversion


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("text", V("String", string_value="text")),
        (5, V("Number", string_value="5")),
        (-3, V("Number", string_value="-3")),
        (1.5, V("Number", string_value="1.5")),
        (Decimal("2.50"), V("Number", string_value="2.50")),
        (b"\x00\x01", V("Binary", binary_value=b"\x00\x01")),
        (bytearray(b"ab"), V("Binary", binary_value=b"ab")),
        (memoryview(b"cd"), V("Binary", binary_value=b"cd")),
        (V("String.x", string_value="kept"), V("String.x", string_value="kept")),
    ],
    ids=["str", "int", "negative", "float", "decimal", "bytes", "bytearray", "memoryview", "value"],
)
def test_plain_values_convert_to_the_matching_aws_type(
    value: object, expected: MessageAttributeValue
) -> None:
    """str gives String, int/float/Decimal give Number, bytes-likes give Binary."""
    assert expected == to_attribute_value("a", value, allow_array=False)


def test_converted_binary_is_bytes_not_a_view() -> None:
    """A bytearray is copied into immutable bytes."""
    source = bytearray(b"ab")

    value = to_attribute_value("a", source, allow_array=False)
    source[0] = ord("z")

    assert b"ab" == value.binary_value


@pytest.mark.parametrize("value", [True, False])
def test_bool_attribute_value_is_refused(value: bool) -> None:
    """A bool is ambiguous (String 'true'? Number 1?) and is refused."""
    with pytest.raises(EventBusError) as caught:
        to_attribute_value("flag", value, allow_array=False)

    assert "InvalidParameterValue" == caught.value.code


@pytest.mark.parametrize("value", [None, {"a": 1}, object()], ids=["none", "dict", "object"])
def test_other_python_values_are_refused(value: object) -> None:
    """Only str, numbers, bytes-likes (and lists on SNS) convert."""
    with pytest.raises(EventBusError) as caught:
        to_attribute_value("a", value, allow_array=True)

    assert "InvalidParameterValue" == caught.value.code


def test_list_converts_to_string_array_only_where_arrays_are_allowed() -> None:
    """SNS turns a list into a String.Array holding JSON; SQS refuses a list."""
    value = to_attribute_value("a", ["x", 1, True, None], allow_array=True)

    assert V("String.Array", string_value='["x", 1, true, null]') == value
    with pytest.raises(EventBusError):
        to_attribute_value("a", ["x"], allow_array=False)


def test_float_nan_converts_but_is_refused_as_a_number() -> None:
    """A NaN float is not a number SQS accepts."""
    value = to_attribute_value("a", float("nan"), allow_array=False)

    assert "InvalidParameterValue" == sqs_code({"a": value})


def test_sending_a_bool_attribute_sends_nothing() -> None:
    """A send whose attribute is a bool is refused and leaves the queue empty."""
    broker = Broker(region="us-east-1", ids=CountingIds())
    queue = broker.create_queue("q", QueueSettings(), now=T0)

    with pytest.raises(EventBusError) as caught:
        queue.send("x", now=T0, message_attributes={"flag": True})

    assert "InvalidParameterValue" == caught.value.code
    assert QueueStatistics(0, 0, 0) == queue.counts(now=T0)
