"""THYWILL_* settings: loading the components and applications, and the system checks."""

from __future__ import annotations

import io
import logging

import pytest
from django.core import checks
from django.core.checks import Error
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from tests.apps.fixture_components import JournalLog, JournalPushBackend
from tests.unit.expected import W001
from thywill import conf
from thywill.exceptions import InvalidComponentError, UnknownApplicationError
from thywill.push.locmem import LocMemPushBackend
from thywill.wiring.checks import (
    check_applications,
    check_components,
    check_django_setup,
    check_settings,
    check_urls,
)
from thywill.wiring.runtime import get_runtime
from thywill_server import settings as project_settings

LOCMEM = "thywill.push.locmem.LocMemPushBackend"
ECHO = "thywill_apps.echo.application.EchoApplication"
FIXTURES = "tests.apps.fixture_components"


@pytest.fixture
def debug(settings):
    """DEBUG on, so the in-memory backend's deploy warning (W001) stays out of the way."""
    settings.DEBUG = True
    return settings


@pytest.fixture
def project(debug):
    """The project's own THYWILL_APPLICATIONS (the test settings add a test application)."""
    debug.THYWILL_APPLICATIONS = project_settings.THYWILL_APPLICATIONS
    debug.THYWILL_DEFAULT_APPLICATION = project_settings.THYWILL_DEFAULT_APPLICATION
    return debug


def thywill_checks() -> list[checks.CheckMessage]:
    """Every registered thywill check, run the way ``manage.py check`` runs them."""
    return checks.run_checks(tags=["thywill"])


# --- the real settings ----------------------------------------------------------------


def test_real_settings_pass_every_check(project):
    """The project's own settings raise no thywill check message in development."""
    assert (check_settings(), check_components(), check_applications()) == ([], [], [])


def test_manage_py_check_passes(project):
    """``manage.py check`` reports no issues on the project's settings."""
    out, err = io.StringIO(), io.StringIO()
    call_command("check", stdout=out, stderr=err)
    assert out.getvalue() == "System check identified no issues (0 silenced).\n"
    assert err.getvalue() == ""


def test_manage_py_check_passes_with_the_deploy_warning(project):
    """With DEBUG off, ``manage.py check`` still passes, showing only warning W001."""
    project.DEBUG = False
    out, err = io.StringIO(), io.StringIO()
    call_command("check", stdout=out, stderr=err)
    assert "thywill.W001" in err.getvalue()
    assert "ERRORS" not in err.getvalue()
    assert (
        "System check identified 1 issue (0 silenced)." in out.getvalue() + err.getvalue()
    )


def test_deploy_warning_only_when_debug_is_off(settings):
    """W001 (in-memory push in production) is reported only when DEBUG is False."""
    settings.DEBUG = False
    assert check_components() == [W001]
    settings.DEBUG = True
    assert check_components() == []


def test_manage_py_check_fails_on_a_bad_setting(debug):
    """``manage.py check`` stops with the thywill error id and the setting's name."""
    debug.THYWILL_COMPONENTS = {"push": {"BACKEND": LOCMEM, "OPTIONS": {"capacityy": 1}}}
    with pytest.raises(SystemCheckError) as caught:
        call_command("check", stdout=io.StringIO(), stderr=io.StringIO())
    assert "thywill.E004" in str(caught.value)
    assert "THYWILL_COMPONENTS['push']" in str(caught.value)


# --- E001: THYWILL_COMPONENTS shape -------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param(
            "push",
            "THYWILL_COMPONENTS must be a dict of role -> {'BACKEND', 'OPTIONS'}.",
            id="not-a-dict",
        ),
        pytest.param(
            {"cache": {"BACKEND": LOCMEM}},
            "THYWILL_COMPONENTS has an unknown role 'cache'; roles: push, database, log.",
            id="unknown-role",
        ),
        pytest.param(
            {"push": LOCMEM},
            "THYWILL_COMPONENTS['push'] must be a dict with a 'BACKEND' dotted path.",
            id="entry-not-a-dict",
        ),
        pytest.param(
            {"push": {"OPTIONS": {}}},
            "THYWILL_COMPONENTS['push'] must be a dict with a 'BACKEND' dotted path.",
            id="backend-missing",
        ),
        pytest.param(
            {"push": {"BACKEND": LocMemPushBackend}},
            "THYWILL_COMPONENTS['push'] must be a dict with a 'BACKEND' dotted path.",
            id="backend-not-a-string",
        ),
        pytest.param(
            {"push": {"BACKEND": LOCMEM, "LOCATION": "x"}},
            "THYWILL_COMPONENTS['push'] has unknown keys ['LOCATION']; "
            "use 'BACKEND' and 'OPTIONS'.",
            id="unknown-key",
        ),
        pytest.param(
            {"push": {"BACKEND": LOCMEM, "OPTIONS": [("capacity", 1)]}},
            "THYWILL_COMPONENTS['push']['OPTIONS'] must be a dict.",
            id="options-not-a-dict",
        ),
    ],
)
def test_malformed_components_setting_is_e001(debug, value, message):
    """A malformed THYWILL_COMPONENTS is thywill.E001, naming the setting."""
    debug.THYWILL_COMPONENTS = value
    assert check_components() == [Error(message, id="thywill.E001")]


def test_role_left_out_keeps_its_default(debug):
    """Roles missing from THYWILL_COMPONENTS use the default components."""
    debug.THYWILL_COMPONENTS = {}
    assert conf.get_component_configs() == conf.DEFAULT_COMPONENTS
    assert check_components() == []
    assert type(get_runtime().push) is LocMemPushBackend


# --- E002: not importable -------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        pytest.param(
            "thywill.push.nowhere.NoBackend",
            "No module named 'thywill.push.nowhere'",
            id="no-module",
        ),
        pytest.param(
            "thywill.push.locmem.NoBackend",
            'Module "thywill.push.locmem" does not define a "NoBackend" attribute/class',
            id="no-attribute",
        ),
        pytest.param(
            "nodots", "nodots doesn't look like a module path", id="not-a-dotted-path"
        ),
    ],
)
def test_unimportable_component_is_e002(debug, path, reason):
    """A component BACKEND that cannot be imported is thywill.E002 with the import error."""
    debug.THYWILL_COMPONENTS = {"push": {"BACKEND": path}}
    assert check_components() == [
        Error(
            f"THYWILL_COMPONENTS['push']['BACKEND'] = {path!r} cannot be imported: "
            f"{reason}",
            id="thywill.E002",
        )
    ]


def test_unimportable_application_is_e002(debug):
    """An application BACKEND that cannot be imported is thywill.E002."""
    debug.THYWILL_APPLICATIONS = {"chat": {"BACKEND": "thywill_apps.nowhere.Missing"}}
    debug.THYWILL_DEFAULT_APPLICATION = "chat"
    assert check_applications() == [
        Error(
            "THYWILL_APPLICATIONS['chat']['BACKEND'] = 'thywill_apps.nowhere.Missing' "
            "cannot be imported: No module named 'thywill_apps.nowhere'",
            id="thywill.E002",
        )
    ]


# --- E003: wrong kind of class ------------------------------------------------------------


def test_component_of_the_wrong_base_class_is_e003(debug):
    """A push BACKEND that is not a BasePushBackend is thywill.E003."""
    debug.THYWILL_COMPONENTS = {"push": {"BACKEND": "thywill.log.stdlib.StdlibLog"}}
    assert check_components() == [
        Error(
            "THYWILL_COMPONENTS['push']['BACKEND'] = 'thywill.log.stdlib.StdlibLog' "
            "is not a subclass of thywill.push.base.BasePushBackend.",
            id="thywill.E003",
        )
    ]


def test_component_that_is_not_a_class_is_e003(debug):
    """A BACKEND naming a function instead of a class is thywill.E003."""
    path = f"{FIXTURES}.not_a_class"
    debug.THYWILL_COMPONENTS = {"log": {"BACKEND": path}}
    assert check_components() == [
        Error(
            f"THYWILL_COMPONENTS['log']['BACKEND'] = {path!r} is not a class.",
            id="thywill.E003",
        )
    ]


def test_application_without_the_interface_is_e003(debug):
    """An application class without handlers and assets is thywill.E003."""
    path = f"{FIXTURES}.NotAnApplication"
    debug.THYWILL_APPLICATIONS = {"chat": {"BACKEND": path}}
    debug.THYWILL_DEFAULT_APPLICATION = "chat"
    assert check_applications() == [
        Error(
            f"THYWILL_APPLICATIONS['chat']['BACKEND'] = {path!r} does not provide the "
            "Application interface (name, title, scripts, styles, client_config, "
            "on_connect, on_message, on_disconnect); subclass "
            "thywill.BaseApplication.",
            id="thywill.E003",
        )
    ]


def test_application_naming_a_non_application_class_is_e003(debug):
    """An application BACKEND naming some other class (a push backend) is thywill.E003."""
    debug.THYWILL_APPLICATIONS = {"chat": {"BACKEND": LOCMEM}}
    debug.THYWILL_DEFAULT_APPLICATION = "chat"
    assert check_applications() == [
        Error(
            f"THYWILL_APPLICATIONS['chat']['BACKEND'] = {LOCMEM!r} does not provide the "
            "Application interface (name, title, scripts, styles, client_config, "
            "on_connect, on_message, on_disconnect); subclass "
            "thywill.BaseApplication.",
            id="thywill.E003",
        )
    ]


def test_application_outside_installed_apps_is_w002(debug):
    """An application whose package is not in INSTALLED_APPS is warned about (W002)."""
    debug.INSTALLED_APPS = [a for a in debug.INSTALLED_APPS if a != "thywill_apps.echo"]
    debug.THYWILL_APPLICATIONS = project_settings.THYWILL_APPLICATIONS
    debug.THYWILL_DEFAULT_APPLICATION = "echo"
    assert check_applications() == [
        checks.Warning(
            "THYWILL_APPLICATIONS['echo'] is not in a package listed in INSTALLED_APPS, "
            "so its static files and models are not found.",
            hint="Add 'thywill_apps.echo' to INSTALLED_APPS.",
            id="thywill.W002",
        )
    ]


def test_application_without_static_files_may_live_anywhere(debug):
    """An application in a package outside INSTALLED_APPS is fine when it lists no
    static files: nothing needs finding."""
    debug.THYWILL_APPLICATIONS = {
        "plain": {"BACKEND": "tests.support.plain_application.PlainApplication"}
    }
    debug.THYWILL_DEFAULT_APPLICATION = "plain"
    assert check_applications() == []


# --- E004: options ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "message"),
    [
        pytest.param(
            {"push": {"BACKEND": LOCMEM, "OPTIONS": {"capacityy": 5}}},
            "Unknown or missing OPTIONS for THYWILL_COMPONENTS['push']: "
            "got an unexpected keyword argument 'capacityy'",
            id="unknown-option",
        ),
        pytest.param(
            {"push": {"BACKEND": f"{FIXTURES}.JournalPushBackend"}},
            "Unknown or missing OPTIONS for THYWILL_COMPONENTS['push']: "
            "missing a required argument: 'journal'",
            id="missing-option",
        ),
        pytest.param(
            {"push": {"BACKEND": LOCMEM, "OPTIONS": {"capacity": 0}}},
            "Invalid OPTIONS for THYWILL_COMPONENTS['push']: "
            "capacity must be a positive integer, not 0",
            id="invalid-capacity",
        ),
        pytest.param(
            {"push": {"BACKEND": LOCMEM, "OPTIONS": {"max_age": "1h"}}},
            "Invalid OPTIONS for THYWILL_COMPONENTS['push']: "
            "max_age must be a number of seconds, not '1h'",
            id="invalid-max-age",
        ),
        pytest.param(
            {
                "database": {
                    "BACKEND": "thywill.database.orm.OrmDatabase",
                    "OPTIONS": {"using": "default"},
                }
            },
            "Unknown or missing OPTIONS for THYWILL_COMPONENTS['database']: "
            "got an unexpected keyword argument 'using'",
            id="database-option",
        ),
    ],
)
def test_bad_component_options_are_e004(debug, config, message):
    """Unknown, missing or invalid OPTIONS are thywill.E004, naming the setting."""
    debug.THYWILL_COMPONENTS = config
    assert check_components() == [Error(message, id="thywill.E004")]


def test_unknown_application_option_is_e004(debug):
    """An application OPTION its class does not take is thywill.E004."""
    debug.THYWILL_APPLICATIONS = {"echo": {"BACKEND": ECHO, "OPTIONS": {"colour": "red"}}}
    assert check_applications() == [
        Error(
            "Unknown or missing OPTIONS for THYWILL_APPLICATIONS['echo']: "
            "got an unexpected keyword argument 'colour'",
            id="thywill.E004",
        )
    ]


def test_every_broken_component_is_reported(debug):
    """One check run reports every broken role, not just the first."""
    debug.THYWILL_COMPONENTS = {
        "push": {"BACKEND": LOCMEM, "OPTIONS": {"capacity": -1}},
        "log": {"BACKEND": "thywill.log.nowhere.Log"},
    }
    assert [m.id for m in check_components()] == ["thywill.E004", "thywill.E002"]


# --- E005 / E006: applications ------------------------------------------------------------

NO_APPLICATIONS = Error(
    "THYWILL_APPLICATIONS must be a non-empty dict of name -> {'BACKEND', 'OPTIONS'}.",
    id="thywill.E005",
)


@pytest.mark.parametrize("value", [{}, [], "echo", None])
def test_no_applications_is_e005(debug, value):
    """An empty or non-dict THYWILL_APPLICATIONS is thywill.E005."""
    debug.THYWILL_APPLICATIONS = value
    assert check_applications() == [NO_APPLICATIONS]


def test_missing_applications_setting_is_e005(debug):
    """A site without THYWILL_APPLICATIONS at all is thywill.E005."""
    del debug.THYWILL_APPLICATIONS
    conf.reset()  # deleting a setting sends no setting_changed signal
    assert check_applications() == [NO_APPLICATIONS]


def test_no_applications_is_reported_once(debug):
    """A missing application list is reported once by the whole check run, not per check."""
    debug.THYWILL_APPLICATIONS = {}
    assert [m.id for m in thywill_checks()] == ["thywill.E005"]


def test_invalid_application_name_is_reported_once(debug):
    """An invalid application name is reported once by the whole check run."""
    debug.THYWILL_APPLICATIONS = {"Echo": {"BACKEND": ECHO}}
    assert [m.id for m in thywill_checks()] == ["thywill.E006"]


def test_malformed_application_entry_is_e005(debug):
    """An application entry without a BACKEND is thywill.E005, naming the application."""
    debug.THYWILL_APPLICATIONS = {"echo": {"OPTIONS": {}}}
    assert check_applications() == [
        Error(
            "THYWILL_APPLICATIONS['echo'] must be a dict with a 'BACKEND' dotted path.",
            id="thywill.E005",
        )
    ]


def test_default_application_not_configured_is_e005(project):
    """A THYWILL_DEFAULT_APPLICATION that names no application is thywill.E005."""
    project.THYWILL_DEFAULT_APPLICATION = "lobby"
    assert check_applications() == [
        Error(
            "THYWILL_DEFAULT_APPLICATION is 'lobby', which is not a key of "
            "THYWILL_APPLICATIONS.",
            id="thywill.E005",
        )
    ]


def test_default_application_defaults_to_the_first(debug):
    """Without THYWILL_DEFAULT_APPLICATION the first application is the default."""
    debug.THYWILL_APPLICATIONS = {"second": {"BACKEND": ECHO}, "first": {"BACKEND": ECHO}}
    del debug.THYWILL_DEFAULT_APPLICATION
    conf.reset()
    assert conf.get_default_application() == "second"
    assert get_runtime().application().name == "second"
    assert check_applications() == []


@pytest.mark.parametrize(
    "name",
    ["Echo", "1echo", "_echo", "", "a" * 51, "echo room", "echo.room", "écho", 7, "echo\n"],
    ids=[
        "capital",
        "digit-first",
        "underscore-first",
        "empty",
        "too-long",
        "space",
        "dot",
        "non-ascii",
        "not-a-string",
        "trailing-newline",
    ],
)
def test_invalid_application_name_is_e006(debug, name):
    """An application name outside [a-z][a-z0-9_-]{0,49} is thywill.E006."""
    debug.THYWILL_APPLICATIONS = {name: {"BACKEND": ECHO}}
    assert check_applications() == [
        Error(
            f"THYWILL_APPLICATIONS has an invalid name {name!r}: use 1 to 50 lower-case "
            "letters, digits, '_' or '-', starting with a letter.",
            id="thywill.E006",
        )
    ]


@pytest.mark.parametrize("name", ["a", "a" * 50, "chat-room_2"])
def test_valid_application_names_pass(debug, name):
    """Names of 1 to 50 lower-case letters, digits, _ and - starting with a letter pass."""
    debug.THYWILL_APPLICATIONS = {name: {"BACKEND": ECHO}}
    debug.THYWILL_DEFAULT_APPLICATION = name
    assert (check_settings(), check_applications()) == ([], [])
    assert get_runtime().application(name).name == name


# --- E007: transports -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param(
            ["sse", "socket.io"],
            "THYWILL_TRANSPORTS names an unknown transport 'socket.io'; "
            "available: websocket, sse, longpoll.",
            id="unknown",
        ),
        pytest.param(
            ["sse", "longpoll", "sse"],
            "THYWILL_TRANSPORTS lists a transport twice.",
            id="duplicated",
        ),
        pytest.param(
            [],
            "THYWILL_TRANSPORTS must be a non-empty list of transport names.",
            id="empty",
        ),
        pytest.param(
            "sse",
            "THYWILL_TRANSPORTS must be a non-empty list of transport names.",
            id="string",
        ),
    ],
)
def test_bad_transports_are_e007(debug, value, message):
    """Unknown, duplicated or missing transports are thywill.E007."""
    debug.THYWILL_TRANSPORTS = value
    assert check_settings() == [Error(message, id="thywill.E007")]


def test_transports_keep_their_order(debug):
    """THYWILL_TRANSPORTS is used in the order given (the client tries them so)."""
    debug.THYWILL_TRANSPORTS = ("longpoll", "sse")
    assert conf.get_transports() == ("longpoll", "sse")
    assert check_settings() == []


# --- E008: limits -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param([("MAX_BATCH", 1)], "THYWILL_LIMITS must be a dict.", id="not-a-dict"),
        pytest.param(
            {"MAX_BYTES": 10},
            "THYWILL_LIMITS has an unknown key 'MAX_BYTES'; known keys: AUTH_TIMEOUT, "
            "BYE_GRACE, LONGPOLL_TIMEOUT, MAX_BATCH, MAX_CLIENTS_PER_CONNECTION, "
            "MAX_CLIENTS_PER_SESSION, MAX_CONNECTIONS_PER_CLIENT, MAX_MESSAGE_BYTES, "
            "MAX_STREAM_BYTES, PRESENCE_TTL, READ_BATCH, RECONNECT_MAX_DELAY, "
            "SSE_KEEPALIVE, TOKEN_MAX_AGE.",
            id="unknown-key",
        ),
        pytest.param(
            {"MAX_BATCH": 0},
            "THYWILL_LIMITS['MAX_BATCH'] must be a positive integer, not 0.",
            id="zero",
        ),
        pytest.param(
            {"MAX_MESSAGE_BYTES": -1},
            "THYWILL_LIMITS['MAX_MESSAGE_BYTES'] must be a positive integer, not -1.",
            id="negative",
        ),
        pytest.param(
            {"MAX_BATCH": 2.5},
            "THYWILL_LIMITS['MAX_BATCH'] must be a positive integer, not 2.5.",
            id="float-for-int",
        ),
        pytest.param(
            {"TOKEN_MAX_AGE": True},
            "THYWILL_LIMITS['TOKEN_MAX_AGE'] must be a positive integer, not True.",
            id="bool",
        ),
        pytest.param(
            {"SSE_KEEPALIVE": "15"},
            "THYWILL_LIMITS['SSE_KEEPALIVE'] must be a positive number, not '15'.",
            id="string",
        ),
        pytest.param(
            {"LONGPOLL_TIMEOUT": 0.0},
            "THYWILL_LIMITS['LONGPOLL_TIMEOUT'] must be a positive number, not 0.0.",
            id="zero-float",
        ),
    ],
)
def test_bad_limits_are_e008(debug, value, message):
    """A malformed THYWILL_LIMITS, unknown key or non-positive value is thywill.E008."""
    debug.THYWILL_LIMITS = value
    assert check_settings() == [Error(message, id="thywill.E008")]


def test_limits_fill_in_defaults(debug):
    """THYWILL_LIMITS overrides only the keys it names; ints are fine for float limits."""
    debug.THYWILL_LIMITS = {"MAX_BATCH": 5, "SSE_KEEPALIVE": 2, "LONGPOLL_TIMEOUT": 0.5}
    assert conf.get_limits() == conf.Limits(
        max_batch=5, sse_keepalive=2, longpoll_timeout=0.5
    )
    assert check_settings() == []


# --- E009: database alias ---------------------------------------------------------------


def test_missing_database_alias_is_e009(debug):
    """A database component on an alias that DATABASES lacks is thywill.E009."""
    debug.THYWILL_COMPONENTS = {
        "database": {
            "BACKEND": "thywill.database.orm.OrmDatabase",
            "OPTIONS": {"alias": "replica"},
        }
    }
    assert check_components() == [
        Error(
            "THYWILL_COMPONENTS['database'] uses database alias 'replica', which is not "
            "in DATABASES.",
            id="thywill.E009",
        )
    ]


# --- the registries and their reset on setting_changed ------------------------------------


def test_components_are_built_once(debug):
    """A component is built on first use and the same instance is returned after."""
    assert get_runtime().push is get_runtime().push
    assert get_runtime().log is get_runtime().log
    assert get_runtime().database is get_runtime().database


def test_setting_change_rebuilds_components(debug):
    """Changing THYWILL_COMPONENTS (override_settings) drops the cached push backend."""
    before = get_runtime().push
    debug.THYWILL_COMPONENTS = {"push": {"BACKEND": LOCMEM, "OPTIONS": {"capacity": 7}}}
    after = get_runtime().push
    assert after is not before
    assert after.capacity == 7


def test_other_setting_change_keeps_components(debug):
    """Changing a setting that is not THYWILL_* keeps the components."""
    before = get_runtime().push
    debug.USE_TZ = False
    assert get_runtime().push is before


def test_setting_change_rebuilds_applications_and_limits(debug):
    """Changing THYWILL_APPLICATIONS or THYWILL_LIMITS takes effect at once."""
    echo = get_runtime().application("echo")
    assert get_runtime().application("echo") is echo
    debug.THYWILL_APPLICATIONS = {"other": {"BACKEND": ECHO}}
    debug.THYWILL_DEFAULT_APPLICATION = "other"
    assert get_runtime().application().name == "other"
    with pytest.raises(UnknownApplicationError):
        get_runtime().application("echo")
    debug.THYWILL_LIMITS = {"MAX_BATCH": 3}
    assert conf.get_limits().max_batch == 3


def test_broken_component_raises_at_first_use(debug):
    """Using a component with broken settings raises InvalidComponentError with its id."""
    debug.THYWILL_COMPONENTS = {"push": {"BACKEND": LOCMEM, "OPTIONS": {"capacity": 0}}}
    with pytest.raises(InvalidComponentError) as caught:
        get_runtime().push  # noqa: B018
    assert caught.value.check_id == "thywill.E004"


def test_unknown_application_is_a_lookup_error(debug):
    """Asking for an application that is not configured raises UnknownApplicationError."""
    with pytest.raises(UnknownApplicationError):
        get_runtime().application("nope")


def test_applications_get_their_name(debug):
    """Each configured application is built with its settings key as name."""
    assert (
        get_runtime().application("echo").name,
        get_runtime().application("testkit").name,
    ) == (
        "echo",
        "testkit",
    )
    assert get_runtime().application().name == "echo"


async def test_aclose_all_closes_in_reverse_creation_order(debug):
    """aclose_all closes components newest first, then builds fresh ones on next use."""
    journal: list[str] = []
    debug.THYWILL_COMPONENTS = {
        "push": {
            "BACKEND": f"{FIXTURES}.JournalPushBackend",
            "OPTIONS": {"journal": journal},
        },
        "log": {"BACKEND": f"{FIXTURES}.JournalLog", "OPTIONS": {"journal": journal}},
    }
    push = get_runtime().push
    assert isinstance(get_runtime().log, JournalLog)
    await get_runtime().aclose()
    assert journal == ["log.aclose", "push.aclose"]
    assert get_runtime().push is not push


async def test_aclose_all_logs_a_failure_and_goes_on(debug, caplog):
    """A component that fails to close is logged as a warning; the others still close."""
    journal: list[str] = []
    debug.THYWILL_COMPONENTS = {
        "push": {
            "BACKEND": f"{FIXTURES}.JournalPushBackend",
            "OPTIONS": {"journal": journal, "fail_close": True},
        },
        "log": {"BACKEND": f"{FIXTURES}.JournalLog", "OPTIONS": {"journal": journal}},
    }
    assert isinstance(get_runtime().log, JournalLog)
    assert isinstance(get_runtime().push, JournalPushBackend)
    with caplog.at_level(logging.WARNING, logger="thywill.wiring.runtime"):
        await get_runtime().aclose()
    assert journal == ["push.aclose", "log.aclose"]
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("thywill.wiring.runtime", logging.WARNING, "Closing the push component failed")
    ]


def test_csrf_kept_in_the_session_is_an_error(settings):
    """The send endpoint runs without the session middleware: E012."""
    from thywill.wiring.checks import check_csrf_storage

    assert check_csrf_storage() == []
    settings.CSRF_USE_SESSIONS = True
    [error] = check_csrf_storage()
    assert error.id == "thywill.E012"


# --- E013: what the bootstrap page relies on ------------------------------------------


def test_a_startproject_setup_has_what_thywill_needs():
    """The demo site (a startproject layout plus thywill) passes the E013 check."""
    assert check_django_setup() == []


def test_missing_session_middleware_and_staticfiles_are_e013(settings):
    """Without sessions' middleware or the staticfiles app, E013 names each one."""
    settings.MIDDLEWARE = [
        m for m in settings.MIDDLEWARE if not m.endswith(".SessionMiddleware")
    ]
    settings.INSTALLED_APPS = [
        a for a in settings.INSTALLED_APPS if a != "django.contrib.staticfiles"
    ]
    assert check_django_setup() == [
        Error(
            "thywill needs 'django.contrib.staticfiles' in INSTALLED_APPS.",
            hint="Its bootstrap page binds each client to a session (and a user), and "
            "loads the browser client as a static file.",
            id="thywill.E013",
        ),
        Error(
            "thywill needs 'django.contrib.sessions.middleware.SessionMiddleware' "
            "(or a subclass) in MIDDLEWARE.",
            hint="The bootstrap page reads the request's session and user.",
            id="thywill.E013",
        ),
    ]


def test_a_subclass_of_a_required_middleware_will_do(settings):
    """A project's own subclass of SessionMiddleware counts as SessionMiddleware."""
    settings.MIDDLEWARE = [
        "tests.apps.fixture_components.OwnSessionMiddleware"
        if m.endswith(".SessionMiddleware")
        else m
        for m in settings.MIDDLEWARE
    ]
    assert check_django_setup() == []


async def test_after_aclose_everything_is_wired_anew(debug):
    """Once closed, the runtime builds its runner, flows and presence again, on the new
    components: nothing keeps a closed push backend."""
    runtime = get_runtime()
    runner, presence = runtime.events, runtime.presence
    await runtime.aclose()
    assert runtime.events is not runner
    assert runtime.presence is not presence
    assert runtime.events.push is runtime.push is runtime.presence.push


# --- E014 / W005: thywill's URLs ---------------------------------------------------------


def test_urls_included_under_a_prefix_pass(settings):
    """The demo site's URLconf and one under /rt/ both include thywill properly."""
    assert check_urls() == []
    settings.ROOT_URLCONF = "tests.apps.prefixed_urls"
    assert check_urls() == []


def test_urls_not_included_are_e014(settings):
    """A URLconf without thywill.urls is an error naming the line to add."""
    settings.ROOT_URLCONF = "tests.apps.no_thywill_urls"
    assert check_urls() == [
        Error(
            "thywill.urls is not included in the URLconf.",
            hint='Add path("thywill/", include("thywill.urls")) to the urlpatterns of '
            "ROOT_URLCONF.",
            id="thywill.E014",
        )
    ]


def test_urls_included_without_a_prefix_are_w005(settings):
    """thywill.urls at the root would answer the project's later URLs with 404s."""
    settings.ROOT_URLCONF = "tests.apps.unprefixed_urls"
    assert check_urls() == [
        checks.Warning(
            "thywill.urls is included without a prefix: its catch-all pattern answers "
            "every URL listed after it with a JSON 404.",
            hint='Include it under a prefix of its own, such as path("thywill/", '
            'include("thywill.urls")).',
            id="thywill.W005",
        )
    ]
