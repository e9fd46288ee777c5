"""The public surface: the names of the contract exist and present as ``eventbus.X``."""

from __future__ import annotations

import eventbus

CONTRACT = {
    "Bus",
    "VirtualClock",
    "SystemClock",
    "RedrivePolicy",
    "EventBusError",
    "MessageAttributeValue",
    "Queue",
    "Topic",
    "Subscription",
    "Consumer",
}


def test_contract_names_are_exported() -> None:
    """Every name architecture.md section 3 promises is importable from eventbus."""
    missing = CONTRACT - set(eventbus.__all__)

    assert set() == missing


def test_exports_present_as_the_package() -> None:
    """Public classes show ``eventbus`` as their module, not a private one; error
    classes show ``eventbus.errors``, where every one of them can be imported from."""
    home = {
        name: "eventbus.errors" if name in eventbus.errors.__all__ else "eventbus"
        for name in eventbus.__all__
        if isinstance(getattr(eventbus, name), type)
    }
    wrong = {
        name: getattr(eventbus, name).__module__
        for name in home
        if getattr(eventbus, name).__module__ != home[name]
    }

    assert {} == wrong


def test_error_classes_print_as_eventbus_errors() -> None:
    """Every error class names ``eventbus.errors`` as its home, so a traceback
    shows ``eventbus.errors.QueueDoesNotExist``, and the name there is the class."""
    import traceback

    for name in eventbus.errors.__all__:
        cls = getattr(eventbus.errors, name)
        assert (cls.__module__, cls.__qualname__) == ("eventbus.errors", name)
    try:
        raise eventbus.errors.QueueDoesNotExist("gone")
    except eventbus.EventBusError as error:
        [shown] = traceback.format_exception_only(error)

    assert shown.startswith("eventbus.errors.QueueDoesNotExist: ")


def test_every_error_carries_an_aws_code() -> None:
    """Each error class in eventbus.errors has its own non-empty code."""
    classes = [getattr(eventbus.errors, name) for name in eventbus.errors.__all__]
    codes = [cls.code for cls in classes if cls is not eventbus.EventBusError]

    assert len(codes) == len(set(codes))
    assert all(codes)


def test_aws_names_present_as_eventbus_aws() -> None:
    """The AWS backend's classes show ``eventbus.aws`` as their module."""
    import eventbus.aws

    assert {"eventbus.aws"} == {
        getattr(eventbus.aws, name).__module__ for name in eventbus.aws.__all__
    }


def test_both_backends_implement_every_abstract_call() -> None:
    """No abstract method is left on either backend's handles, and each call keeps the
    abstract handle's documentation."""
    import inspect

    from eventbus._runtime._local_handles import LocalQueue, LocalSubscription, LocalTopic
    from eventbus.aws import AwsQueue, AwsSubscription, AwsTopic

    pairs = [
        (eventbus.Queue, (LocalQueue, AwsQueue)),
        (eventbus.Topic, (LocalTopic, AwsTopic)),
        (eventbus.Subscription, (LocalSubscription, AwsSubscription)),
    ]
    for abstract, implementations in pairs:
        for implementation in implementations:
            assert issubclass(implementation, abstract)
            assert not getattr(implementation, "__abstractmethods__", None), implementation
            for name in dir(abstract):
                if not name.startswith("_") and callable(getattr(abstract, name)):
                    assert inspect.getdoc(getattr(implementation, name)), (implementation, name)
