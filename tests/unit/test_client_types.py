"""The client's TypeScript declarations name every error code the server can answer."""

from __future__ import annotations

import re
from pathlib import Path

from thywill.exceptions import ErrorCode

DECLARATIONS = Path(__file__).parents[2] / "thywill" / "static" / "thywill" / "thywill.d.ts"


def test_the_declared_server_error_codes_are_the_servers():
    text = DECLARATIONS.read_text()
    union = re.search(r"export type ServerErrorCode =(.*?);", text, re.S)
    assert union is not None
    declared = set(re.findall(r"'([a-z_]+)'", union.group(1)))
    assert declared == {code.value for code in ErrorCode}
