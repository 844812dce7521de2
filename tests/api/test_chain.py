"""The official default chain, tamed: it reads the environment it is given (not the library's
import-time snapshot), forwards the library's log lines as events, and never starts the ECS
role provider's background threads."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from conftest import TEST_AK, TEST_SECRET, EmulatorFactory
from liverecd.api import chain
from liverecd.api.accounts import provider_for
from liverecd.api.chain import SourceAbsent, default_chain
from liverecd.config import AccountConfig, ApiConfig
from liverecd.errors import CredentialsError


def quiet_env(home: Path, **extra: str) -> dict[str, str]:
    """No ECS metadata, no CLI profile: a chain that only has what the test gives it."""
    return {
        "HOME": str(home),
        "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true",
        "ALIBABA_CLOUD_CLI_PROFILE_DISABLED": "true",
        **extra,
    }


async def test_the_chain_reads_the_environment_given_after_the_library_was_imported(
    tmp_path: Path, emulator_factory: EmulatorFactory
) -> None:
    chain._library()  # the library has snapshotted os.environ by now
    emu = await emulator_factory(sts_ttl=60)
    env = quiet_env(tmp_path, ALIBABA_CLOUD_CREDENTIALS_URI=emu.credentials_uri(TEST_AK))
    provider = default_chain(env)
    creds = await provider.fetch()
    assert provider.kind == "credentials_uri" and creds.is_sts


async def test_environment_variables_come_first(tmp_path: Path) -> None:
    env = quiet_env(
        tmp_path,
        ALIBABA_CLOUD_ACCESS_KEY_ID=TEST_AK,
        ALIBABA_CLOUD_ACCESS_KEY_SECRET=TEST_SECRET,
        ALIBABA_CLOUD_CREDENTIALS_URI="http://127.0.0.1:9/never",
    )
    provider = default_chain(env)
    creds = await provider.fetch()
    assert provider.kind == "environment" and creds.access_key_id == TEST_AK


def credentials_ini(home: Path, text: str) -> Path:
    path = home / ".alibabacloud" / "credentials.ini"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    return path


async def test_a_profile_of_the_credentials_file_through_the_library(tmp_path: Path) -> None:
    credentials_ini(
        tmp_path,
        f"[partner]\ntype = access_key\naccess_key_id = {TEST_AK}\n"
        f"access_key_secret = {TEST_SECRET}\n",
    )
    account = AccountConfig("partner", ApiConfig(), profile="partner")
    provider = provider_for(account, quiet_env(tmp_path))
    creds = await provider.fetch()
    assert creds.access_key_id == TEST_AK and creds.secret.reveal() == TEST_SECRET
    assert provider.kind == "credentials_file:partner"


async def test_a_missing_profile_is_an_error_naming_the_source_not_an_absence(
    tmp_path: Path,
) -> None:
    credentials_ini(tmp_path, "[default]\ntype = access_key\naccess_key_id = a\n")
    provider = default_chain(quiet_env(tmp_path), profile="ghost")
    with pytest.raises(CredentialsError) as err:
        await provider.fetch()
    assert not isinstance(err.value, SourceAbsent)
    assert "credentials_file:ghost" in str(err.value)


async def test_nothing_configured_is_an_absence_naming_the_variables(tmp_path: Path) -> None:
    with pytest.raises(SourceAbsent, match="ALIBABA_CLOUD_ACCESS_KEY_ID"):
        await default_chain(quiet_env(tmp_path)).fetch()


def test_the_library_prints_nothing_itself_its_warnings_become_events() -> None:
    chain._library()
    logger = logging.getLogger("credentials")
    # (pytest adds its own capture handlers; the library's bare StreamHandler must be gone)
    assert not [h for h in logger.handlers if type(h) is logging.StreamHandler]
    assert any(isinstance(h, chain._Forward) for h in logger.handlers)
    assert logger.propagate is False
    with capture_logs() as logs:
        logger.warning("Refresh credentials failed, result: {'AccessKeySecret': 'leak'}")
    [event] = logs
    assert event["event"] == "credentials_library"
    assert "leak" not in event["message"]


def test_no_ecs_role_provider_of_ours_starts_a_thread() -> None:
    library = chain._library()
    from alibabacloud_credentials.provider import cli_profile, profile

    before = threading.active_count()
    library.EcsRamRoleCredentialsProvider(role_name="r", async_update_enabled=False)
    # The profile providers build their own ECS provider for `type = ecs_ram_role`.
    profile.EcsRamRoleCredentialsProvider(role_name="r")
    cli_profile.EcsRamRoleCredentialsProvider(role_name="r")
    assert threading.active_count() == before
