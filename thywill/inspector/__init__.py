"""The inspector: a staff-only page, itself a thywill application, that shows a site's
connections, message rates, groups, presence and latest errors live.

Each server process counts its own connections and messages (``counters``, bumped by the
hot paths with an integer add) and keeps its latest errors (``errors``). While an
inspector page is open, every process pushes a snapshot of them to the inspector's
group once a second (``watcher``); the page sums the processes. Off unless a project
names ``thywill.inspector.application.InspectorApplication`` in THYWILL_APPLICATIONS
(documentation/operations.md#the-inspector).
"""
