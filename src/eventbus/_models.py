"""Pydantic models at the API edge: queue and topic configuration, redrive policies.

They turn keyword arguments into the core's validated settings. A bad value raises
an :class:`EventBusError` with the AWS code (never a pydantic ``ValidationError``),
naming the attribute under its AWS name and the allowed range.
"""

from __future__ import annotations

import enum
from typing import Any, ClassVar, Final, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    model_validator,
)

from ._core._errors import (
    EventBusError,
    InvalidAttributeName,
    InvalidAttributeValue,
    InvalidParameter,
    InvalidParameterValue,
    bounded_repr,
)
from ._core._settings import (
    KMS_DATA_KEY_REUSE_PERIOD,
    QUEUE_AWS_NAMES,
    QUEUE_INT_ATTRIBUTES,
    TOPIC_AWS_NAMES,
    DeduplicationScope,
    FifoThroughputLimit,
    FifoThroughputScope,
    TopicSettings,
)

_QUEUE_AWS_NAMES = (
    QUEUE_AWS_NAMES
    | TOPIC_AWS_NAMES
    | {
        "redrive_permission": "redrivePermission",
        "source_queues": "sourceQueueArns",
        "dead_letter_queue": "deadLetterTargetArn",
        "max_receive_count": "maxReceiveCount",
    }
)
_INT_RANGES = {key: (low, high) for key, (_, low, high, _) in QUEUE_INT_ATTRIBUTES.items()} | {
    "kms_data_key_reuse_period_seconds": KMS_DATA_KEY_REUSE_PERIOD[:2]
}
_FIFO_ONLY = {
    # AWS's texts for a FIFO-only attribute on a standard queue (InvalidAttributeName),
    # from LocalStack's AWS-validated snapshot of
    # test_create_standard_queue_with_fifo_attribute_raises_error (test_sqs.py).
    "content_based_deduplication": "Unknown Attribute ContentBasedDeduplication.",
    "deduplication_scope": (
        "You can specify the DeduplicationScope only when FifoQueue is set to true."
    ),
    "fifo_throughput_limit": (
        "You can specify the FifoThroughputLimit only when FifoQueue is set to true."
    ),
}


class NotGiven(enum.Enum):
    """The default of an option whose None means something (``redrive_policy=None``
    removes the policy): the option was not given."""

    NOT_GIVEN = "NOT_GIVEN"

    def __repr__(self) -> str:
        return "<not given>"


NOT_GIVEN: Final = NotGiven.NOT_GIVEN


def given_options(**options: object) -> dict[str, Any]:
    """The options a call gave: those that are neither None nor ``NOT_GIVEN``."""
    return {
        key: value
        for key, value in options.items()
        if value is not None and value is not NotGiven.NOT_GIVEN
    }


def _describe(error: ValidationError, aws_names: dict[str, str], default: str) -> tuple[bool, str]:
    """(is an unknown attribute, message) for the first error of ``error``."""
    first = error.errors()[0]
    key = str(first["loc"][-1]) if first["loc"] else default
    if first["type"] == "extra_forbidden":
        return True, f"Unknown Attribute {key}."
    if key in _INT_RANGES:
        low, high = _INT_RANGES[key]
        allowed = f"it must be an integer from {low} to {high}"
    else:
        allowed = first["msg"][0].lower() + first["msg"][1:]
    value = first.get("input")
    return (
        False,
        f"Invalid value for the parameter {aws_names.get(key, key)}: "
        f"{bounded_repr(value)}; {allowed}.",
    )


class _EdgeModel(BaseModel):
    """A frozen model whose validation errors become EventBusErrors."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)
    _error: ClassVar[type[EventBusError]] = InvalidAttributeValue
    _unknown: ClassVar[type[EventBusError]] = InvalidAttributeName
    _aws_name: ClassVar[str] = "Attributes"

    @model_validator(mode="wrap")
    @classmethod
    def _as_aws_error(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Self:
        try:
            result: Self = handler(data)
        except ValidationError as error:
            unknown, message = _describe(error, _QUEUE_AWS_NAMES, cls._aws_name)
            raise (cls._unknown if unknown else cls._error)(message) from None
        return result


class RedrivePolicy(_EdgeModel):
    """A source queue's redrive policy: where messages go after too many receives.

    Args:
        dead_letter_queue: the dead-letter queue's name, URL or ARN; it must exist
            and be of the same type (standard or FIFO) as the source.
        max_receive_count: receives allowed before the move, 1-1000.
    """

    _error = InvalidParameterValue
    _unknown = InvalidParameterValue
    _aws_name = "RedrivePolicy"

    dead_letter_queue: str = Field(min_length=1)
    max_receive_count: int = Field(ge=1, le=1000)


class RedriveAllowPolicy(_EdgeModel):
    """A dead-letter queue's policy on which source queues may use it.

    Args:
        redrive_permission: ``allowAll`` (the default on AWS), ``denyAll`` or
            ``byQueue``.
        source_queues: with ``byQueue``, 1-10 source queues (names, URLs or ARNs);
            none otherwise.
    """

    _aws_name = "RedriveAllowPolicy"

    redrive_permission: Literal["allowAll", "denyAll", "byQueue"] = "allowAll"
    source_queues: tuple[str, ...] = Field((), max_length=10)

    @model_validator(mode="after")
    def _sources_match_permission(self) -> Self:
        if self.redrive_permission == "byQueue" and not self.source_queues:
            raise InvalidAttributeValue(
                "Invalid value for the parameter RedriveAllowPolicy: byQueue needs 1-10 "
                "source queues in source_queues."
            )
        if self.redrive_permission != "byQueue" and self.source_queues:
            raise InvalidAttributeValue(
                "Invalid value for the parameter RedriveAllowPolicy: source_queues are "
                f"allowed only with byQueue, not with {self.redrive_permission}."
            )
        return self


def check_queue_type_change(queue_fifo: bool, attributes: dict[str, Any]) -> None:
    """Refuse ``fifo_queue`` in a SetQueueAttributes as AWS does.

    A standard queue has no ``FifoQueue`` attribute: giving it, true or false, is
    ``InvalidAttributeName`` "Unknown Attribute FifoQueue." (AWS's text, LocalStack's
    AWS-validated snapshot of test_create_standard_queue_with_fifo_attribute_raises_error).
    A FIFO queue stays one: false is ``InvalidAttributeValue``.
    """
    if "fifo_queue" not in attributes:
        return
    if not queue_fifo:
        raise InvalidAttributeName("Unknown Attribute FifoQueue.")
    if attributes["fifo_queue"] is not True:
        raise InvalidAttributeValue(
            "Invalid value for the parameter FifoQueue. Reason: Modifying queue type is "
            "not supported."
        )


class QueueConfig(_EdgeModel):
    """The attributes of a queue, as ``Bus.create_queue`` keywords (snake_case AWS names).

    Which attributes a call gave is ``model_fields_set``; the others take AWS's
    defaults.
    """

    visibility_timeout: int = Field(30, ge=0, le=43_200)
    delay_seconds: int = Field(0, ge=0, le=900)
    message_retention_period: int = Field(345_600, ge=60, le=1_209_600)
    maximum_message_size: int = Field(1_048_576, ge=1_024, le=1_048_576)
    receive_message_wait_time_seconds: int = Field(0, ge=0, le=20)
    redrive_policy: RedrivePolicy | None = None
    redrive_allow_policy: RedriveAllowPolicy | None = None
    fifo_queue: bool = False
    content_based_deduplication: bool = False
    deduplication_scope: DeduplicationScope = "queue"
    fifo_throughput_limit: FifoThroughputLimit = "perQueue"
    policy: str | dict[str, Any] | None = None
    kms_master_key_id: str | None = None
    kms_data_key_reuse_period_seconds: int = Field(
        KMS_DATA_KEY_REUSE_PERIOD[2],
        ge=KMS_DATA_KEY_REUSE_PERIOD[0],
        le=KMS_DATA_KEY_REUSE_PERIOD[1],
    )
    sqs_managed_sse_enabled: bool = True

    @model_validator(mode="after")
    def _fifo_rules(self) -> Self:
        given = self.model_fields_set
        if not self.fifo_queue:
            # AWS knows no FifoQueue attribute on a standard queue, not even false.
            if "fifo_queue" in given:
                raise InvalidAttributeName("Unknown Attribute FifoQueue.")
            for key, message in _FIFO_ONLY.items():
                if key in given:
                    raise InvalidAttributeName(message)
        elif (
            self.fifo_throughput_limit == "perMessageGroupId"
            and self.deduplication_scope != "messageGroup"
        ):
            # The rule is the SQS API reference's (SetQueueAttributes); the text is ours.
            raise InvalidAttributeValue(
                "Invalid value for the parameter FifoThroughputLimit. Reason: The "
                "perMessageGroupId value is allowed only when the value for "
                f"DeduplicationScope is messageGroup (it is {self.deduplication_scope})."
            )
        if (
            self.kms_master_key_id
            and self.sqs_managed_sse_enabled
            and "sqs_managed_sse_enabled" in given
        ):
            # AWS's text: LocalStack's AWS-validated snapshot of
            # test_sse_kms_and_sqs_are_mutually_exclusive (test_sqs.py).
            raise InvalidAttributeName(
                "You can use one type of server-side encryption (SSE) at one time. You "
                "can either enable KMS SSE or SQS SSE."
            )
        return self


class TopicConfig(_EdgeModel):
    """The attributes of a topic, as ``Bus.create_topic`` keywords."""

    _error = InvalidParameter
    _unknown = InvalidParameter

    fifo_topic: bool = False
    content_based_deduplication: bool = False
    display_name: str = Field("", max_length=100)
    fifo_throughput_scope: FifoThroughputScope = "Topic"
    kms_master_key_id: str | None = None

    @model_validator(mode="after")
    def _fifo_rules(self) -> Self:
        if not self.fifo_topic:
            for key in ("content_based_deduplication", "fifo_throughput_scope"):
                if key in self.model_fields_set:
                    raise InvalidParameter(
                        f"Invalid parameter: Attributes Reason: {TOPIC_AWS_NAMES[key]} "
                        "applies to FIFO topics only."
                    )
        return self

    def to_core(self) -> TopicSettings:
        """The core's form of these settings."""
        return TopicSettings(
            fifo_topic=self.fifo_topic,
            content_based_deduplication=self.content_based_deduplication,
            display_name=self.display_name,
            fifo_throughput_scope=self.fifo_throughput_scope,
            kms_master_key_id=self.kms_master_key_id or None,
        )
