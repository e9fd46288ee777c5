"""The AWS backend: the same Bus, handles and consumer on real SNS and SQS.

Install it with ``pip install 'eventbus[aws]'``, then::

    from eventbus import Bus
    from eventbus.aws import AwsBackend

    async with Bus(backend=AwsBackend(region_name="eu-west-1")) as bus:
        queue = await bus.create_queue("orders")
"""

try:
    import aiobotocore  # noqa: F401
except ImportError as error:  # pragma: no cover - depends on the installation
    raise ImportError("eventbus.aws needs aiobotocore: pip install 'eventbus[aws]'") from error

from ._backend import AwsBackend as AwsBackend
from ._handles import AwsQueue as AwsQueue
from ._handles import AwsSubscription as AwsSubscription
from ._handles import AwsTopic as AwsTopic

__all__ = ["AwsBackend", "AwsQueue", "AwsSubscription", "AwsTopic"]

for _name in __all__:
    globals()[_name].__module__ = __name__
del _name
