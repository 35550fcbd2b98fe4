"""Testing thywill applications: clients in the test's own process, through thywill's
real endpoints, pipeline, hook scripts and push backend (documentation/server-api.md).

```python
from thywill.testing import connect

alice = await connect("chat")
assert await alice.send({"type": "chat.say", "text": "hi"}) == {"status": "ok"}
said = await alice.receive_one("chat.said")
```

``connect_sync`` is the same for sync tests (``django.test.TransactionTestCase``);
``reset_runtime()`` gives the next test a runtime of its own (an empty in-memory push
backend); ``thywill.testing.pytest`` holds pytest fixtures.
"""

from thywill.testing.client import TestClient, connect
from thywill.testing.sync import SyncTestClient, connect_sync
from thywill.wiring.runtime import reset_runtime

__all__ = ["SyncTestClient", "TestClient", "connect", "connect_sync", "reset_runtime"]
