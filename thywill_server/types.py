"""Type aliases shared across thywill."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeAlias

JSON: TypeAlias = Mapping[str, "JSON"] | Sequence["JSON"] | str | int | float | bool | None
"""Any value that encodes to JSON: what applications send and receive."""

ComponentConfig: TypeAlias = Mapping[str, object]
"""One entry of THYWILL_COMPONENTS or THYWILL_APPLICATIONS: BACKEND and OPTIONS."""
