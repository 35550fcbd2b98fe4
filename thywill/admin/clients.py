"""The admin of thywill's clients: who each client is, whether it is connected now, and
the actions that disconnect it or send it a test message."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path

from thywill.admin import groups
from thywill.api import disconnect, get_applications, send_to_client
from thywill.exceptions import PushUnavailableError, ThywillError
from thywill.models import Client
from thywill.operations import client_groups, connected

TEST_MESSAGE = {"type": "thywill.test", "text": "A test message from the Django admin."}
"""What the "send a test message" action sends."""

if TYPE_CHECKING:
    ModelAdmin = admin.ModelAdmin[Client]
else:  # Django's ModelAdmin takes no type parameter at runtime; its stubs do
    ModelAdmin = admin.ModelAdmin

MAX_ERRORS_SHOWN = 5
"""How many failed clients an action names; it counts the rest."""


class ApplicationFilter(admin.SimpleListFilter):
    """Filter by application, offering the configured ones (no query for the choices)."""

    title = "application"
    parameter_name = "application"

    def lookups(
        self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]
    ) -> list[tuple[str, str]]:
        return [(spec.name, spec.title or spec.name) for spec in get_applications()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset if value is None else queryset.filter(application=value)


class ClientAdmin(ModelAdmin):
    """Clients are written by thywill on every page load, so this admin only reads them.

    A page costs one query for its rows (users joined) and one presence read from the
    push backend for all of them; the full count is never taken.
    """

    list_display = ("id", "application", "user", "created_at", "is_connected")
    list_filter = (ApplicationFilter,)
    list_select_related = ("user",)
    list_per_page = 100
    list_max_show_all = 100  # "Show all" never reads more rows than a page
    show_full_result_count = False
    ordering = ("-created_at",)
    search_help_text = "A client's exact id, or a user's exact username."
    search_fields = ("id",)  # the search box; get_search_results does the matching
    fields = ("id", "application", "user", "created_at", "is_connected", "groups")
    readonly_fields = fields
    actions = ("disconnect_clients", "send_test_message")
    change_list_template = "admin/thywill/client/change_list.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # manage.py thywill_purge deletes the records that no longer work

    def has_operate_permission(self, request: HttpRequest) -> bool:
        """Whether the user may disconnect clients and send them test messages."""
        return request.user.has_perm("thywill.change_client")

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Client], search_term: str
    ) -> tuple[QuerySet[Client], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        username = f"user__{get_user_model().USERNAME_FIELD}"
        # Exact matches only: both are indexed, whatever the number of rows.
        return queryset.filter(Q(id=term) | Q(**{username: term})), False

    def get_changelist_instance(self, request: HttpRequest) -> ChangeList:
        changelist = super().get_changelist_instance(request)
        rows: list[Client] = list(changelist.result_list)  # cached for the template
        try:
            live: set[str] | None = connected([row.id for row in rows])
        except PushUnavailableError as exc:
            live = None
            self.message_user(
                request, f"Who is connected is unknown: {exc}", messages.WARNING
            )
        for row in rows:
            # Read back by is_connected(), as the template renders each row.
            row.thywill_connected = None if live is None else row.id in live  # type: ignore[attr-defined]
        return changelist

    @admin.display(description="connected", boolean=True)
    def is_connected(self, client: Client) -> bool | None:
        """Whether the client holds a presence lease (None: unknown)."""
        if hasattr(client, "thywill_connected"):
            known: bool | None = client.thywill_connected
            return known
        try:  # the client's own page: one read for one client
            return client.id in connected([client.id])
        except PushUnavailableError:
            return None

    @admin.display(description="groups now")
    def groups(self, client: Client) -> str:
        """The groups of its application the client is in now."""
        try:
            names = client_groups(client.application, client.id)
        except ThywillError as exc:
            return f"unknown ({exc})"
        return ", ".join(names) or "none"

    @admin.action(description="Disconnect the selected clients", permissions=["operate"])
    def disconnect_clients(self, request: HttpRequest, queryset: QuerySet[Client]) -> None:
        """End each selected client for good (``thywill.api.disconnect``)."""
        self._each(request, queryset, disconnect, "Disconnected")

    @admin.action(
        description="Send a test message to the selected clients", permissions=["operate"]
    )
    def send_test_message(self, request: HttpRequest, queryset: QuerySet[Client]) -> None:
        """Push ``TEST_MESSAGE`` to each selected client (``api.send_to_client``)."""
        self._each(
            request,
            queryset,
            lambda client_id: send_to_client(client_id, TEST_MESSAGE),
            "Sent a test message to",
        )

    def _each(
        self,
        request: HttpRequest,
        queryset: QuerySet[Client],
        act: Callable[[str], None],
        done_text: str,
    ) -> None:
        """Act on each client; report how many it reached and why the others failed."""
        done = 0
        failed: list[str] = []
        for client_id in queryset.values_list("id", flat=True).iterator():
            try:
                act(client_id)
            except PushUnavailableError as exc:
                failed.append(f"{client_id}: {exc}")
                break  # the others would fail the same way
            except (ThywillError, ValueError) as exc:
                failed.append(f"{client_id}: {exc}")
            else:
                done += 1
        if done:
            self.message_user(request, f"{done_text} {done} client(s).", messages.SUCCESS)
        if failed:
            more = len(failed) - MAX_ERRORS_SHOWN
            shown = "; ".join(failed[:MAX_ERRORS_SHOWN])
            self.message_user(
                request,
                f"Failed for {len(failed)} client(s): {shown}"
                + (f" (and {more} more)" if more > 0 else ""),
                messages.ERROR,
            )

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        own = [
            path(
                "groups/",
                view(self._groups_view),
                name="thywill_client_groups",
            ),
            path(
                "groups/<str:app>/<str:group>/",
                view(self._group_view),
                name="thywill_client_group",
            ),
        ]
        return own + super().get_urls()

    def _groups_view(self, request: HttpRequest) -> HttpResponse:
        return groups.application_groups(self, request)

    def _group_view(self, request: HttpRequest, app: str, group: str) -> HttpResponse:
        return groups.group_members(self, request, app, group)
