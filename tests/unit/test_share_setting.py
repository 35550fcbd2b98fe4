"""THYWILL_SHARE_CONNECTIONS: whether the tabs of a browser share one connection
(documentation/transports.md, "Shared connections"). The server only says so in each
client's configuration; the browser client does the sharing."""

from __future__ import annotations

import pytest

from tests.unit.test_views import Tab
from thywill.conf import get_share_connections
from thywill.exceptions import ConfigurationError
from thywill.wiring.checks import check_settings

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_page_tells_its_client_that_tabs_share_by_default():
    """Sharing is on by default, and every configuration says so."""
    config = await Tab().bootstrap("/thywill/init/")
    assert config["share"] is True
    assert config["limits"]["maxClientsPerConnection"] == 16


async def test_with_sharing_off_the_configuration_says_so(settings):
    """THYWILL_SHARE_CONNECTIONS = False reaches the browser client as ``share: false``."""
    settings.THYWILL_SHARE_CONNECTIONS = False
    config = await Tab().bootstrap("/thywill/init/")
    assert config["share"] is False


def test_a_share_setting_that_is_not_a_bool_is_e020(settings):
    """THYWILL_SHARE_CONNECTIONS = "yes" is thywill.E020."""
    settings.THYWILL_SHARE_CONNECTIONS = "yes"
    with pytest.raises(ConfigurationError):
        get_share_connections()
    [message] = check_settings()
    assert (message.id, message.msg) == (
        "thywill.E020",
        "THYWILL_SHARE_CONNECTIONS must be True or False, not 'yes'.",
    )
