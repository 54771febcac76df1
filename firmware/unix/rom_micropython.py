"""The ESP32 port's `micropython` module on the unix port: everything the unix port has, plus the IRQ buffer."""

from micropython import *  # noqa: F403


def alloc_emergency_exception_buf(size):
    pass  # the unix port has no hard IRQs: nothing to reserve
