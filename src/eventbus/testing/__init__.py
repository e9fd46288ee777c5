"""Helpers for testing code built on eventbus."""

from ._moto import moto_server as moto_server

__all__ = ["moto_server"]
