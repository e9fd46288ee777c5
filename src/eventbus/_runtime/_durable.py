"""The durability barrier of the public calls."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, Protocol, TypeVar

import anyio

if TYPE_CHECKING:
    from ._local import LocalBackend

P = ParamSpec("P")
R = TypeVar("R")


class _HasLocal(Protocol):
    @property
    def _local(self) -> LocalBackend: ...


S = TypeVar("S", bound=_HasLocal)


def durable(
    method: Callable[Concatenate[S, P], Awaitable[R]],
) -> Callable[Concatenate[S, P], Coroutine[Any, Any, R]]:
    """Make a call that changes state return only once the change is committed.

    With a store that commits in the background (group commit), the call waits for
    the commit that holds its change; otherwise the change was committed already and
    this costs one check. The wait always ends: that commit either succeeds or hands
    its failure (``StoreUnavailable``) to every call waiting for it, and closing the
    bus makes the last commit.
    """

    async def call(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        result = await method(self, *args, **kwargs)
        local = self._local
        if local._group_commit:  # checked here: awaiting _durable() costs a coroutine
            # Shielded: the change is made already, and a caller cancelled now would
            # lose its result (a receive's messages would stay hidden, unreturned).
            with anyio.CancelScope(shield=True):
                await local._durable()
        return result

    functools.update_wrapper(call, method)
    return call
