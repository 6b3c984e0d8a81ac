"""The storage clients' transport: the environment's proxy settings are honoured where set
(pipelines/store/transport.py, transport_options), and `LeanSession` sends what
`requests.Session` sends and fails as it fails."""

from __future__ import annotations

import os

import pytest

from pipelines.settings import Settings
from pipelines.store.account import StorageAccount
from pipelines.store.transport import LeanSession, transport_options


@pytest.fixture
def bare_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.lower() in {"http_proxy", "https_proxy", "all_proxy", "no_proxy", "requests_ca_bundle",
                            "curl_ca_bundle", "netrc"}:
            monkeypatch.delenv(name)
    return monkeypatch


def test_without_proxy_settings_the_clients_do_not_read_the_environment_per_call(bare_environment) -> None:
    options = transport_options()
    assert set(options) == {"use_env_settings", "session"} and options["use_env_settings"] is False
    assert isinstance(options["session"], LeanSession) and options["session"].trust_env is False
    account = StorageAccount(Settings(storage_connection="UseDevelopmentStorage=true"))
    # the setting reaches the transport of every client, each with a lean session of its own
    sessions = []
    for client in (account.tables, account.blobs, account.queues):
        transport = client._client._client._pipeline._transport
        assert transport._use_env_settings is False and isinstance(transport.session, LeanSession)
        sessions.append(transport.session)
    assert len({id(session) for session in sessions}) == 3


@pytest.mark.parametrize("name", ["HTTPS_PROXY", "https_proxy", "NO_PROXY", "NETRC"])
def test_a_proxy_setting_keeps_requests_reading_the_environment(bare_environment, name: str) -> None:
    bare_environment.setenv(name, "http://proxy.example:3128")
    assert transport_options() == {}
    account = StorageAccount(Settings(storage_connection="UseDevelopmentStorage=true"))
    transport = account.blobs._client._client._pipeline._transport
    assert transport._use_env_settings is True and transport.session is None  # azure-core makes its own


def test_a_ca_bundle_of_the_environment_is_given_to_the_clients_once(bare_environment) -> None:
    bare_environment.setenv("CURL_CA_BUNDLE", "/etc/ssl/curl.pem")
    bare_environment.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/requests.pem")
    # requests prefers REQUESTS_CA_BUNDLE: so do the clients, without reading it per call
    options = transport_options()
    assert options["use_env_settings"] is False and options["connection_verify"] == "/etc/ssl/requests.pem"
    account = StorageAccount(Settings(storage_connection="UseDevelopmentStorage=true"))
    transport = account.tables._client._client._pipeline._transport
    assert transport._use_env_settings is False and transport.connection_config.verify == "/etc/ssl/requests.pem"
