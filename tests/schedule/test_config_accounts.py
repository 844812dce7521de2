"""`accounts:` in the main config (DESIGN.md §10): resolved over the `api` block, and every
mistake reported at its line and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from liverecd.errors import ConfigError
from liverecd.schedule.config import load_config


def load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "liverecd.yaml"
    path.write_text("schedules: [s/*.yaml]\n" + text)
    return load_config(path)


def test_an_account_inherits_the_api_block_and_overrides_what_it_names(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        "api:\n  region: cn-shanghai\n  qps: 40\n  timeout: 3s\n"
        "accounts:\n  partner:\n    profile: partner\n    region: cn-beijing\n    qps: 20\n",
    )
    partner = config.account("partner")  # type: ignore[attr-defined]
    assert (partner.api.region, partner.api.qps, partner.api.timeout.total_seconds()) == (
        "cn-beijing", 20, 3.0,
    )  # fmt: skip
    assert partner.profile == "partner" and partner.credentials_prefix is None
    assert config.account_names == ("default", "partner")  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("body", "where", "message"),
    [
        ("  default:\n    profile: x\n", (3, 3), "is the api block's account"),
        ("  p:\n    profile: x\n    credentials_prefix: y\n", (4, 5), "exactly one of"),
        ("  p:\n    qps: 5\n", (4, 5), "exactly one of"),
        ("  p:\n    profile: x\n    qps: -1\n", (5, 10), "accounts.p.qps"),
        ("  p:\n    profile: x\n    access_key_secret: s\n", (5, 5), "never go in YAML"),
        ("  p:\n    profile: x\n    endpoint: http://example.com\n", (5, 15), "loopback"),
    ],
)
def test_account_mistakes_are_located(
    tmp_path: Path, body: str, where: tuple[int, int], message: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load(tmp_path, "accounts:\n" + body)
    [problem] = err.value.problems
    assert (problem.line, problem.col) == where, problem
    assert message in str(problem)
