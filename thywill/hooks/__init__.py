"""Hook scripts: a folder of plain Python files whose ``pre_<event>(model)`` and
``post_<event>(model, succeeded)`` functions run around every event of that kind, as a
pipe closest to the core. A script imports what it uses from ``thywill`` (``fail``,
``shared``, ``Model``); documentation/hooks.md lists every event and its model's fields.
"""
