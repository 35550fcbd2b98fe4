"""Request checks that passed, remembered by what they read.

Django's Host and CSRF checks are pure functions of a few request headers and of the
settings, and cost a long-poll or a send about a tenth of its CPU
(documentation/performance.md), though a client asks with the same headers every time.
``PassedChecks`` remembers the headers of requests that passed, so the same headers pass
again without the work. A failure is never remembered: a refusal is always Django's own.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from typing import Any

from django.core.signals import setting_changed


class PassedChecks:
    """The inputs of requests that passed a check: at most ``size``, the oldest
    dropped first, and all forgotten when any setting changes (the checks read
    settings, and ``override_settings`` changes them in tests).

    Args:
        size: the most kept.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._passed: dict[Hashable, None] = {}  # a set in the order of arrival
        self._lock = threading.Lock()  # the test client's threads share the checks
        setting_changed.connect(self._forget)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._passed

    def add(self, key: Hashable) -> None:
        """Remember that a request with these inputs passed."""
        with self._lock:
            if len(self._passed) >= self.size:
                del self._passed[next(iter(self._passed))]
            self._passed[key] = None

    def __len__(self) -> int:
        return len(self._passed)

    def _forget(self, **kwargs: Any) -> None:
        with self._lock:
            self._passed.clear()
