"""thywill installed into a new Django project, exactly as documentation/installing.md says.

As a user would: build the wheel from the working tree, install it (with the ``redis``
extra) and uvicorn into a fresh virtualenv, create a project with ``django-admin
startproject``, apply the code blocks of installing.md to it, migrate, serve it with
uvicorn and make a round trip on WebSocket, SSE and long-poll through the protocol, with
an application of the project's own. Then the same with thywill under another prefix.

The edits come from the document itself: every code block whose first line names a file
(``# mysite/settings.py``, ``// notes/static/notes/notes.js``) is applied to that file, and
every command run here is checked to be written in the document, so the two cannot drift.
The wheel and the virtualenv are built once for the module; each prefix is a project.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.metadata
import importlib.util
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.conftest import require
from tests.live import free_port
from tests.support.http_client import ThywillHttpClient, Transport, data_of, delivered

pytestmark = [pytest.mark.live, pytest.mark.timeout(900)]  # it builds and installs

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "documentation" / "installing.md"
PROJECT = "mysite"
APP = "notes"
PREFIXES = ("thywill/", "rt/")
"""The prefix of the document's urls.py, and the other one it shows."""
TRANSPORTS = ("websocket", "sse", "longpoll")
WHEEL_FILES = (
    "thywill/templates/thywill/bootstrap.html",
    "thywill/templatetags/thywill.py",
    "thywill/static/thywill/thywill.js",
    "thywill/static/thywill/thywill.mjs",
    "thywill/static/thywill/thywill.d.ts",
    "thywill/migrations/0001_initial.py",
    "thywill/hooks/examples/reference.py",
)
NOT_SOURCES = shutil.ignore_patterns(
    *(".git", ".venv", ".tools", "build", "dist", "*.egg-info", "__pycache__"),
    *(".*_cache", "node_modules", "var", "staticfiles", "db.sqlite3*", ".coverage*"),
)
"""What the wheel is not built from: environments, caches and earlier builds."""
BUILD_TIMEOUT = 300.0
INSTALL_TIMEOUT = 600.0
COMMAND_TIMEOUT = 120.0
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
FRAME_TIMEOUT = 10.0


# --- documentation/installing.md --------------------------------------------------------

FENCE = re.compile(
    r"^(?P<indent> *)```\w*\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S
)


def doc_blocks() -> list[str]:
    """Every fenced code block of the document, dedented, in order."""
    return [textwrap.dedent(m["body"]) for m in FENCE.finditer(DOC.read_text())]


def blocks_for(path: str) -> list[str]:
    """The blocks whose first line names ``path`` (``# path`` or ``// path``), in order."""
    return [
        block
        for block in doc_blocks()
        if block.splitlines()[:1] in ([f"# {path}"], [f"// {path}"])
    ]


def block_for(path: str) -> str:
    """The one block that names ``path``."""
    blocks = blocks_for(path)
    assert len(blocks) == 1, f"installing.md has {len(blocks)} blocks for {path}"
    return blocks[0]


def doc_line(line: str) -> str:
    """``line``, once checked to be written in a code block of the document."""
    found = any(
        block_line.partition(" #")[0].strip() == line
        for block in doc_blocks()
        for block_line in block.splitlines()
    )
    assert found, f"installing.md has no line {line!r} in a code block"
    return line


# --- processes --------------------------------------------------------------------------


def clean_env() -> dict[str, str]:
    """This environment without what points into the test run (its settings, its paths)."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {"DJANGO_SETTINGS_MODULE", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}
    }
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run(args: Sequence[str | Path], *, cwd: Path, timeout: float = COMMAND_TIMEOUT) -> str:
    """Run a command to its end; its output, or a failure that shows it."""
    command = [str(arg) for arg in args]
    shown = shlex.join(command)
    try:
        result = subprocess.run(
            command,
            cwd=cwd,
            env=clean_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        output = f"{as_text(exc.stdout)}{as_text(exc.stderr)}"
        pytest.fail(f"{shown} did not end within {timeout:.0f}s:\n{output}")
    if result.returncode != 0:
        pytest.fail(f"{shown} exited {result.returncode}:\n{result.stdout}{result.stderr}")
    return result.stdout


def as_text(output: str | bytes | None) -> str:
    """What a timed-out command printed (bytes or str, or None when nothing)."""
    if isinstance(output, bytes):
        return output.decode(errors="replace")
    return output or ""


def find_uv() -> str | None:
    """uv on the PATH, or the one ./dev installs in .tools/."""
    local = ROOT / ".tools" / "bin" / "uv"
    return shutil.which("uv") or (str(local) if local.is_file() else None)


def has_pip() -> bool:
    """Whether the test run's own environment has pip (one made by uv may not)."""
    return importlib.util.find_spec("pip") is not None


# --- the wheel and the virtualenv (once per module) -------------------------------------


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from the working tree, as ``pip wheel .`` (or ``uv build``) does.

    Built from a copy of the tree, so that the build neither writes into the checkout
    (build/, *.egg-info) nor picks up an earlier build's leftovers.
    """
    work = tmp_path_factory.mktemp("wheel")
    source, out = work / "source", work / "dist"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCES)
    uv = find_uv()
    require(has_pip() or uv is not None, "pip or uv, to build the wheel")
    command: list[str | Path]
    if has_pip():
        command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", out, source]
    else:
        command = [uv or "uv", "build", "--wheel", "--out-dir", out, source]
    run(command, cwd=work, timeout=BUILD_TIMEOUT)
    wheels = sorted(out.glob("thywill-*.whl"))
    assert len(wheels) == 1, f"expected one thywill wheel, got {wheels}"
    return wheels[0]


def constraints_file(path: Path) -> Path:
    """Pin every package this test run has to the version it has (``pip freeze``, less
    thywill itself), so that the new virtualenv gets the same versions every day."""
    pins: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if not name:
            continue
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key != "thywill":
            pins.setdefault(key, f"{name}=={dist.version}")  # the one that imports wins
    path.write_text("".join(f"{pin}\n" for pin in sorted(pins.values())))
    return path


def make_venv(path: Path) -> None:
    """``python -m venv``; where that cannot work (no ensurepip), ``uv venv --seed``."""
    try:
        result = subprocess.run(
            [sys.executable, "-m", "venv", str(path)],
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"python -m venv did not end within {COMMAND_TIMEOUT:.0f}s")
    if result.returncode == 0:
        return
    uv = find_uv()
    require(uv is not None, f"python -m venv (it failed: {result.stderr.strip()}) or uv")
    shutil.rmtree(path, ignore_errors=True)
    run([uv or "uv", "venv", "--seed", "--python", sys.executable, path], cwd=path.parent)


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtualenv with thywill from the wheel, its redis extra, and uvicorn."""
    home = tmp_path_factory.mktemp("venv")
    env_dir = home / "env"
    make_venv(env_dir)
    constraints = constraints_file(home / "constraints.txt")
    # installing.md, "1. Install the package": the wheel stands for "thywill".
    doc_line('pip install "thywill[redis]"')
    # installing.md, "7. Run it": uvicorn and a WebSocket implementation for it.
    server_packages = shlex.split(doc_line("pip install uvicorn websockets"))[2:]
    run(
        [
            *(env_dir / "bin" / "python", "-m", "pip", "install"),
            *("--disable-pip-version-check", "-c", constraints),
            f"{wheel}[redis]",
            *server_packages,
        ],
        cwd=home,
        timeout=INSTALL_TIMEOUT,
    )
    return env_dir


def test_wheel_carries_templates_static_migrations_and_hooks(wheel: Path) -> None:
    """The wheel ships the files that are not Python modules, and the migrations."""
    names = set(zipfile.ZipFile(wheel).namelist())
    assert [name for name in WHEEL_FILES if name not in names] == []


def test_virtualenv_runs_thywill_from_the_wheel(venv: Path, tmp_path: Path) -> None:
    """thywill imports from the new virtualenv, not from the checkout; so does the
    redis extra."""
    script = (
        "import thywill, thywill.asgi, thywill.push.redis, hiredis\n"
        "print(thywill.__file__)\n"
    )
    printed = run([venv / "bin" / "python", "-c", script], cwd=tmp_path)
    location = Path(printed.strip()).resolve()
    assert location.is_relative_to(venv.resolve()), location


# --- a new project, served --------------------------------------------------------------


@dataclasses.dataclass
class Site:
    """A project served by uvicorn, thywill's URLs under ``prefix`` (``"rt/"``)."""

    url: str
    prefix: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def new_project(venv: Path, home: Path, prefix: str) -> Path:
    """``django-admin startproject mysite`` with installing.md's steps applied."""
    bin_dir = venv / "bin"
    python = bin_dir / "python"
    run([bin_dir / "django-admin", "startproject", PROJECT], cwd=home)
    project = home / PROJECT
    package = project / PROJECT
    asgi = package / "asgi.py"
    # "4. asgi.py" says only the import changes from what startproject wrote.
    assert "from django.core.asgi import get_asgi_application" in asgi.read_text()
    assert "application = get_asgi_application()" in asgi.read_text()

    def append(path: Path, text: str) -> None:
        with path.open("a") as file:
            file.write("\n" + text)

    # Added at the end of settings.py: "2. INSTALLED_APPS" now, "5. A first application"
    # below.
    settings = package / "settings.py"
    settings_blocks = blocks_for(f"{PROJECT}/settings.py")
    assert len(settings_blocks) == 2, settings_blocks
    thywill_app, application = settings_blocks
    append(settings, thywill_app)
    append(settings, 'ALLOWED_HOSTS = ["127.0.0.1"]\n')  # the test's own

    # "3. URLs": the new project's urls.py, under the prefix of the document's example
    # or under the other prefix it shows.
    urls = block_for(f"{PROJECT}/urls.py")
    default_line = 'path("thywill/", include("thywill.urls")),'
    assert default_line in [line.strip() for line in urls.splitlines()], urls
    if prefix != "thywill/":
        other_line = doc_line(f'path("{prefix}", include("thywill.urls")),')
        urls = urls.replace(default_line, other_line)
    (package / "urls.py").write_text(urls)

    # "4. asgi.py": the file as it then reads.
    asgi.write_text(block_for(f"{PROJECT}/asgi.py"))

    # "5. A first application": a new Django app, its application class and its script,
    # then the settings that list the app and name the application.
    startapp = shlex.split(doc_line(f"python manage.py startapp {APP}"))
    run([python, *startapp[1:]], cwd=project)
    for path in (f"{APP}/realtime.py", f"{APP}/static/{APP}/{APP}.js"):
        target = project / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(block_for(path))
    append(settings, application)

    # "6. Migrate".
    migrate = shlex.split(doc_line("python manage.py migrate"))
    run([python, *migrate[1:]], cwd=project)
    return project


@contextlib.contextmanager
def serve(venv: Path, project: Path, prefix: str) -> Iterator[Site]:
    """Run the project under uvicorn ("7. Run it") on a free port; stop it after."""
    command = shlex.split(doc_line(f"uvicorn {PROJECT}.asgi:application"))
    port = free_port()
    log_path = project.parent / "uvicorn.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                str(venv / "bin" / command[0]),
                *command[1:],
                *("--host", "127.0.0.1", "--port", str(port)),
                # Open SSE streams never end by themselves: bound the graceful shutdown.
                *("--timeout-graceful-shutdown", "2"),
            ],
            cwd=project,
            env=clean_env(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    site = Site(f"http://127.0.0.1:{port}", prefix, process, log_path)
    try:
        wait_until_listening(site)
        yield site
    finally:
        stop(process)


def wait_until_listening(site: Site) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    port = int(site.url.rpartition(":")[2])
    while time.monotonic() < deadline:
        if site.process.poll() is not None:
            pytest.fail(f"uvicorn exited at start-up:\n{site.log()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"uvicorn did not listen within {START_TIMEOUT:.0f}s:\n{site.log()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM by its pid, then SIGKILL if it lingers."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)


@pytest.fixture(scope="module", params=PREFIXES, ids=lambda prefix: prefix.strip("/"))
def site(
    request: pytest.FixtureRequest, venv: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    """A new project with thywill under one of the prefixes, served by uvicorn."""
    prefix: str = request.param
    home = tmp_path_factory.mktemp(f"project-{prefix.strip('/')}")
    with serve(venv, new_project(venv, home, prefix), prefix) as served:
        yield served


class Tab(ThywillHttpClient):
    """A tab of the project's application; its page is under the project's prefix."""

    def __init__(self, site: Site) -> None:
        super().__init__(site.url, app=APP)
        self.prefix = site.prefix

    @property
    def init_path(self) -> str:
        return f"/{self.prefix}{self.app}/init/"


@pytest.fixture
def tab(site: Site) -> Iterator[Tab]:
    with contextlib.closing(Tab(site)) as client:
        yield client


# --- the tests of a project -------------------------------------------------------------


def test_page_gives_every_url_under_the_prefix(site: Site, tab: Tab) -> None:
    """The page's endpoints, WebSocket included, are all under the project's prefix; it
    loads thywill.js and the application's script, both served."""
    page = tab.http.get(tab.init_path)
    assert page.status_code == 200, page.text
    tab.bootstrap()

    assert tab.config["application"] == APP
    assert tab.config["endpoints"] == {
        name: f"/{site.prefix}{name}/"
        for name in ("send", "sse", "longpoll", "websocket", "bye")
    }
    for script in ("/static/thywill/thywill.js", f"/static/{APP}/{APP}.js"):
        assert f'src="{script}"' in page.text
        served = tab.http.get(script)
        assert served.status_code == 200, script
        assert "thywill" in served.text, script
    health = tab.http.get(f"/{site.prefix}health/")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})


def until_delivered_and_sent(frames: Sequence[dict[str, Any]]) -> bool:
    """A message delivered and the ``sent`` answer read."""
    return bool(delivered(frames)) and any(frame["type"] == "sent" for frame in frames)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_round_trip_reaches_the_projects_application(
    site: Site, tab: Tab, transport: str
) -> None:
    """A message makes the round trip through the project's NotesApplication: sent and
    read on the WebSocket, or POSTed and read by SSE or long-poll."""
    tab.bootstrap(transport=transport)
    data = {"text": f"hello over {transport}"}
    if transport == "websocket":
        with tab.websocket() as ws:
            opened = tab.ws_frames(ws, lambda frames: len(frames) >= 1)
            assert [frame["type"] for frame in opened] == ["open"]
            tab.ws_send(ws, data)
            frames = tab.ws_frames(ws, until_delivered_and_sent, timeout=FRAME_TIMEOUT)
        results = [
            r for frame in frames if frame["type"] == "sent" for r in frame["results"]
        ]
        received = delivered(frames)
    else:
        results = tab.send(data)
        reader: Transport = "sse" if transport == "sse" else "longpoll"
        received = data_of(tab.receive(1, transport=reader))

    assert results == [{"seq": 1, "status": "ok"}]
    assert received == [{"echo": data, "by": APP}], site.log()


def closed_with(connect: Callable[[], Any]) -> int:
    """The close code of a socket the server refuses, once its frames are read."""
    with connect() as ws, pytest.raises(ConnectionClosed) as closed:
        while True:
            json.loads(ws.recv(timeout=FRAME_TIMEOUT))
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


def test_nothing_of_thywill_is_under_another_prefix(site: Site, tab: Tab) -> None:
    """With thywill under one prefix, the other one is Django's 404, and a WebSocket
    there is closed with 4404."""
    other = next(prefix for prefix in PREFIXES if prefix != site.prefix)
    tab.bootstrap()
    for path in (f"/{other}{APP}/init/", f"/{other}init/", f"/{other}health/"):
        assert tab.http.get(path).status_code == 404, path
    assert httpx.post(f"{site.url}/{other}send/", timeout=5).status_code == 404

    tab.config["endpoints"] = {
        **tab.config["endpoints"],
        "websocket": f"/{other}websocket/",
    }
    assert closed_with(tab.websocket) == 4404
