"""A peer-harness run → thywill against the raw ASGI ceiling and the best peer, target by
target: ``table.md`` and ``chart.png`` in the run's directory (and, with ``--latest``,
``bench/results/latest.md`` and ``latest.png``). Run by ``bench/run`` after the matrix.

    .venv/bin/python bench/peers_table.py bench/results/<timestamp> [--latest]

Repeated cells (``--repeat``) are reduced as the harness's report does: the run with the
median primary figure. Every ratio compares figures of one invocation.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import json
import shutil
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import peers_chart
from peers import ONE_PROCESS, ROOT, TWO_PROCESSES, import_harness

Cell = dict[str, Any]
"""One result line of the harness: a server run of one system, adapter and scenario."""
Key = tuple[str, str, str]
"""A cell's system, adapter and scenario."""
Cells = dict[Key, list[Cell]]

RESULTS = ROOT / "bench" / "results"
MISSING = "\u2013"
"""What a table shows for a figure not measured (an en dash, as the harness's tables)."""
TRANSPORTS = {"ws": "WebSocket", "sse": "SSE", "longpoll": "long-poll"}
ADAPTERS = {
    "ws": ("raw-ws", "channels-ws", "channels-ws-layer", "sio-ws"),
    "sse": ("raw-sse", "eventstream-sse"),
    "longpoll": ("raw-longpoll", "sio-polling"),
}
"""The harness's adapters by transport, the ceiling's first."""
REDIS_PEERS = {
    ("sio-redis", "sio-ws"),
    ("sio-redis", "sio-polling"),
    ("es-daphne-redis", "eventstream-sse"),
    ("channels-redis", "channels-ws-layer"),
    ("channels-redis-cap", "channels-ws-layer"),
}
"""The peers' (system, adapter) whose round trip goes through Redis."""
STACK = ("django", "channels", "uvicorn", "uvloop", "httptools", "websockets", "redis")
"""thywill's server stack, whose versions the table names."""


@dataclasses.dataclass(frozen=True, slots=True)
class Figure:
    """A figure of a cell: its field in the results, its name, which way is better."""

    field: str
    name: str
    higher_is_better: bool


ROUND_TRIPS = Figure("msgs_per_s", "msgs/s", True)
DELIVERIES = Figure("deliveries_per_s", "deliveries/s", True)
P99 = Figure("lat_p99_ms", "p99 ms", False)
MEMORY = Figure("kb_per_conn", "KB/conn", False)


@dataclasses.dataclass(frozen=True, slots=True)
class Target:
    """thywill ÷ ceiling must be at least ``bound`` (at most, where lower is better);
    ``None``: shown without a target."""

    scenario: str
    transport: str
    figure: Figure
    bound: float | None


CEILING_TARGETS = [
    *(Target("rt100", t, ROUND_TRIPS, 0.6) for t in TRANSPORTS),
    Target("rt1000", "ws", ROUND_TRIPS, 0.6),
    *(Target("rt1000", t, ROUND_TRIPS, None) for t in ("sse", "longpoll")),
    *(Target("fan1000", t, DELIVERIES, 0.6) for t in TRANSPORTS),
    *(Target(s, t, P99, 3.0) for s in ("rt100", "rt1000") for t in TRANSPORTS),
    *(Target(s, t, MEMORY, 1.3) for s in ("idle2000", "idle5000") for t in TRANSPORTS),
]
REDIS_BOUND = 1.0
"""Two thywill processes against the best Redis-backed peer's round trip (N=100), on
the same transport where a peer has it (issue 15)."""
SCALE_OUT_BOUND = 0.5
"""Two thywill processes against thywill's own one process, same transport."""
IDLE_10000 = "idle10000"


@dataclasses.dataclass(frozen=True, slots=True)
class Comparison:
    """thywill's figure against a reference: the ceiling, or the best Redis peer."""

    scenario: str
    what: str
    """The transport, or the adapter."""
    figure: Figure
    thywill: float | None
    reference: float | None
    peer: tuple[float, str] | None
    """The best peer's figure and name."""
    bound: float | None
    troubles: str

    @property
    def label(self) -> str:
        return f"{self.scenario} {self.what} {self.figure.name}"

    @property
    def ratio(self) -> float | None:
        """thywill ÷ reference."""
        if self.thywill is None or not self.reference:
            return None
        return self.thywill / self.reference

    @property
    def peer_ratio(self) -> float | None:
        """The best peer ÷ reference."""
        if self.peer is None or not self.reference:
            return None
        return self.peer[0] / self.reference

    @property
    def met(self) -> bool | None:
        """Whether the target is met, by a run without trouble; None when a figure is
        missing or there is no target."""
        ratio = self.ratio
        if ratio is None or self.bound is None:
            return None
        if self.figure.higher_is_better:
            return ratio >= self.bound and not self.troubles
        return ratio <= self.bound and not self.troubles

    @property
    def target(self) -> str:
        if self.bound is None:
            return MISSING
        return f"{'≥' if self.figure.higher_is_better else '≤'} {self.bound:g}"


# --- reading -----------------------------------------------------------------------------


def load(run: Path) -> Cells:
    """The run's result lines, by system, adapter and scenario."""
    cells: Cells = defaultdict(list)
    for line in (run / "results.jsonl").read_text().splitlines():
        if line.strip():
            cell = json.loads(line)
            if cell.get("adapter"):
                cells[cell["system"], cell["adapter"], cell["scenario_key"]].append(cell)
    return cells


def typical(cells: Cells, key: Key) -> Cell | None:
    """The median run of a cell (the harness's report's choice), or None."""
    runs = cells.get(key)
    if not runs:
        return None
    chosen: Cell = import_harness("report").median_run(runs)
    return chosen


def value(cell: Cell | None, figure: Figure) -> float | None:
    found = None if cell is None else cell.get(figure.field)
    return float(found) if isinstance(found, int | float) else None


def troubles(cell: Cell | None) -> str:
    """What went wrong in a cell, in short (empty when nothing did)."""
    if cell is None:
        return ""
    found = [str(cell["error"])[:80]] if cell.get("error") else []
    for name in ("timeouts", "lost", "dropped_during_run", "incomplete_msgs"):
        if cell.get(name):
            found.append(f"{name} {cell[name]}")
    if cell.get("send_errors"):
        found.append(f"send errors {cell['send_errors']}")
    if cell.get("connect_errors"):
        found.append(f"connect errors {cell['connect_errors']}")
    if cell.get("server_log_error_lines"):
        found.append(f"{cell['server_log_error_lines']} error lines in the server log")
    if cell.get("server_alive") is False:
        found.append("server died")
    return "; ".join(found)


def best(cells: Cells, keys: Sequence[Key], figure: Figure) -> tuple[float, str] | None:
    """The best figure among ``keys``, with whose it is; None when none was measured."""
    known = []
    for key in keys:
        found = value(typical(cells, key), figure)
        if found is not None:
            known.append((found, f"{key[0]} · {key[1]}"))
    if not known:
        return None
    pick = max if figure.higher_is_better else min
    return pick(known, key=lambda pair: pair[0])


# --- comparing ---------------------------------------------------------------------------


def against_ceiling(cells: Cells, target: Target) -> Comparison:
    """thywill, the ceiling and the best peer in one scenario and transport."""
    ceiling, *peers = ADAPTERS[target.transport]
    mine = typical(cells, ("thywill", f"thywill-{target.transport}", target.scenario))
    return Comparison(
        scenario=target.scenario,
        what=TRANSPORTS[target.transport],
        figure=target.figure,
        thywill=value(mine, target.figure),
        reference=value(typical(cells, ("raw", ceiling, target.scenario)), target.figure),
        peer=best(
            cells,
            [key for key in cells if key[1] in peers and key[2] == target.scenario],
            target.figure,
        ),
        bound=target.bound,
        troubles=troubles(mine),
    )


def through_redis(cells: Cells) -> list[Comparison]:
    """thywill over two processes against the best Redis-backed peer of the same
    transport (of any, where no peer has it), round trip N=100."""
    peers = [key for key in cells if key[:2] in REDIS_PEERS and key[2] == "rt100"]
    comparisons = []
    for adapter in TWO_PROCESSES:
        alike = [key for key in peers if key[1] in ADAPTERS[two_process_transport(adapter)]]
        peer = best(cells, alike or peers, ROUND_TRIPS)
        reference = None if peer is None else peer[0]
        comparisons.append(two_processes(cells, adapter, reference, peer, REDIS_BOUND))
    return comparisons


def scaled_out(cells: Cells) -> list[Comparison]:
    """thywill over two processes against itself on one, same transport, N=100."""
    comparisons = []
    for adapter in TWO_PROCESSES:
        key = ("thywill", f"thywill-{two_process_transport(adapter)}", "rt100")
        alone = value(typical(cells, key), ROUND_TRIPS)
        comparisons.append(two_processes(cells, adapter, alone, None, SCALE_OUT_BOUND))
    return comparisons


def two_processes(
    cells: Cells,
    adapter: str,
    reference: float | None,
    peer: tuple[float, str] | None,
    bound: float,
) -> Comparison:
    """The round trip N=100 of a two-process adapter against ``reference``."""
    mine = typical(cells, ("thywill-redis", adapter, "rt100"))
    return Comparison(
        scenario="rt100",
        what=adapter,
        figure=ROUND_TRIPS,
        thywill=value(mine, ROUND_TRIPS),
        reference=reference,
        peer=peer,
        bound=bound,
        troubles=troubles(mine),
    )


def two_process_transport(adapter: str) -> str:
    """The transport of a two-process adapter: ``thywill-sse-x`` is ``sse``."""
    return adapter.removeprefix("thywill-").removesuffix("-x")


def held_all(cell: Cell) -> bool:
    """Every connection open, held and reached by the broadcast, and nothing wrong."""
    clients = cell.get("clients")
    return not troubles(cell) and all(
        cell.get(field) == clients
        for field in ("connected", "alive_after_hold", "broadcast_reached")
    )


# --- writing -----------------------------------------------------------------------------


def number(found: float | None) -> str:
    if found is None:
        return MISSING
    return f"{found:,.0f}" if abs(found) >= 100 else f"{found:.3g}"


def ratio_text(ratio: float | None) -> str:
    return MISSING if ratio is None else f"{ratio:.3g}" if ratio < 1000 else f"{ratio:,.0f}"


def verdict(met: bool | None) -> str:
    return MISSING if met is None else "**met**" if met else "not met"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    if not rows:
        return ["Not measured in this run."]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return lines


def peer_text(comparison: Comparison) -> str:
    peer = comparison.peer
    return MISSING if peer is None else f"{number(peer[0])} ({peer[1]})"


def ceiling_table(comparisons: Sequence[Comparison]) -> list[str]:
    header = ["scenario", "transport", "figure", "thywill", "ceiling", "best peer"]
    header += ["thywill ÷ ceiling", "target", "met?", "thywill's troubles"]
    rows = [
        [
            c.scenario,
            c.what,
            c.figure.name,
            number(c.thywill),
            number(c.reference),
            peer_text(c),
            ratio_text(c.ratio),
            c.target,
            verdict(c.met),
            c.troubles,
        ]
        for c in comparisons
    ]
    return table(header, rows)


def redis_table(
    comparisons: Sequence[Comparison], scaling: Sequence[Comparison]
) -> list[str]:
    header = ["adapter", "msgs/s", "best Redis-backed peer", "thywill ÷ peer", "target"]
    header += ["met?", "one process", "two ÷ one", "target", "met?", "troubles"]
    alone = {c.what: c for c in scaling}
    rows = []
    for c in comparisons:
        own = alone.get(c.what)
        rows.append(
            [
                f"`{c.what}`",
                number(c.thywill),
                peer_text(c),
                ratio_text(c.ratio),
                c.target,
                verdict(c.met),
                number(None if own is None else own.reference),
                ratio_text(None if own is None else own.ratio),
                MISSING if own is None else own.target,
                verdict(None if own is None else own.met),
                c.troubles,
            ]
        )
    return table(header, rows)


def idle_table(cells: Cells) -> tuple[list[str], list[bool]]:
    """Every run must hold all 10,000 connections; the worst run is shown."""
    rows, verdicts = [], []
    for adapter in ONE_PROCESS:
        runs = cells.get(("thywill", adapter, IDLE_10000), [])
        if not runs:
            continue
        worst = min(
            runs, key=lambda cell: (held_all(cell), cell.get("alive_after_hold") or 0)
        )
        met = all(held_all(cell) for cell in runs)
        verdicts.append(met)
        rows.append(
            [
                f"`{adapter}`",
                *(str(worst.get(f)) for f in ("connected", "alive_after_hold")),
                str(worst.get("broadcast_reached")),
                number(value(worst, MEMORY)),
                verdict(met),
                troubles(worst),
            ]
        )
    header = ["adapter", "connected", "alive after hold", "broadcast reached", "KB/conn"]
    return table([*header, "met?", "troubles"], rows), verdicts


def describe(run: Path) -> list[str]:
    """How, when and on what the run was made."""
    about_path, machine_path = run / "run.json", run / "versions.json"
    about = json.loads(about_path.read_text()) if about_path.exists() else {}
    machine = json.loads(machine_path.read_text()) if machine_path.exists() else {}
    stack = ", ".join(f"{name} {importlib.metadata.version(name)}" for name in STACK)
    return [
        f"Run `{run.name}`, options `{' '.join(about.get('argv', [])) or '(none)'}`, "
        f"load average {about.get('load_average', '?')} at its start.  ",
        f"thywill `{about.get('commit') or '?'}` on Python {sys.version.split()[0]}: "
        f"{stack}.  ",
        f"Peers and load generator on Python {machine.get('python', '?')}; machine: "
        f"{machine.get('cpu', '?')}, {machine.get('mem_gib', '?')} GiB, "
        f"kernel {machine.get('kernel', '?')}; {machine.get('pinning', '?')}.",
    ]


def report(run: Path) -> tuple[str, list[Comparison], list[Comparison]]:
    """The run's tables (markdown), and the comparisons the chart draws."""
    cells = load(run)
    # Only what this run measured (a run may be a subset: --only, --quick).
    ceiling = [
        comparison
        for comparison in (against_ceiling(cells, target) for target in CEILING_TARGETS)
        if comparison.thywill is not None or comparison.reference is not None
    ]
    redis = [c for c in through_redis(cells) if c.thywill is not None]
    scaling = [c for c in scaled_out(cells) if c.thywill is not None]
    idle, idle_verdicts = idle_table(cells)
    verdicts = [c.met for c in (*ceiling, *redis, *scaling) if c.met is not None]
    verdicts += idle_verdicts
    lines = [
        "## thywill against the peers",
        "",
        *describe(run),
        "",
        f"**{sum(verdicts)} of {len(verdicts)} targets met**, of those measured in this "
        f"run ({MISSING}: not measured in it, or no target).",
        "",
        "### Against the raw ASGI ceiling: one server process, same transport",
        "",
        *ceiling_table(ceiling),
        "",
        "### Through Redis: two thywill processes, round trip with 100 clients",
        "",
        "The feed on one process, the sends to the other; against the best peer whose "
        "round trip goes through Redis (in one process), on the same transport where a "
        "peer has one, and against thywill's own one process on that transport.",
        "",
        *redis_table(redis, scaling),
        "",
        "### 10,000 idle connections on one process",
        "",
        *idle,
        "",
    ]
    return "\n".join(lines), ceiling, redis


def main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="the run's results directory")
    parser.add_argument(
        "--latest", action="store_true", help="also update bench/results/latest.*"
    )
    args = parser.parse_args(argv)
    text, ceiling, redis = report(args.run)
    (args.run / "table.md").write_text(text)
    peers_chart.draw(ceiling, redis, args.run / "chart.png", title=args.run.name)
    print(text)
    if args.latest:
        shutil.copyfile(args.run / "table.md", RESULTS / "latest.md")
        shutil.copyfile(args.run / "chart.png", RESULTS / "latest.png")


if __name__ == "__main__":
    main(sys.argv[1:])
