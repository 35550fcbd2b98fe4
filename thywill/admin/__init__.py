"""thywill in Django's admin: its clients, with whether each is connected and actions to
disconnect one or send it a test message, and the applications' groups with their
members (documentation/operations.md).

Django's admin imports this module when ``django.contrib.admin`` is installed.
"""

from django.contrib import admin

from thywill.admin.clients import ClientAdmin
from thywill.models import Client

admin.site.register(Client, ClientAdmin)
