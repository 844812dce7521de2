"""The docs' shell blocks run as written, so the install instructions cannot drift.

Every ```sh block of README.md, config/README.md and systemd/README.md carries a marker line
`<!-- docs-test: NAME -->` (or `<!-- docs-test: skip: why -->`) naming how it runs here. The
systemd blocks run with bash from a copy of the checkout, with `/etc` and `/opt` moved into a
temporary root and `systemctl`, `systemd-creds` and `systemd-run` replaced by stand-ins that do
what the real ones would do with files; the installed unit then goes through
`systemd-analyze verify`, and the installed daemon (the venv the block made) answers `fire`.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import TEST_SECRET, EmulatorFactory

REPO = Path(__file__).resolve().parents[2]
DOCS = ("README.md", "config/README.md", "systemd/README.md")
FENCE = re.compile(r"^[ \t]*```sh[ \t]*$", re.MULTILINE)
BLOCK = re.compile(
    r"^<!-- docs-test: (?P<name>[\w-]+)(?::[ \t]*(?P<why>.+?))? -->\n"
    r"[ \t]*```sh\n(?P<body>.*?)^[ \t]*```",
    re.MULTILINE | re.DOTALL,
)
KEY_ID = "LTAI5t..."  # what the docs' step 3 writes: the placeholder, as pasted
ANALYZE = shutil.which("systemd-analyze")

# Stand-ins for the service manager: they log their arguments and do the file work.
FAKES = {
    "systemctl": "",
    "systemd-creds": """
if args[:1] == ["encrypt"]:
    # systemd-creds encrypt --name=ID - OUT: stand-in "encryption" keeps the bytes
    Path(args[-1]).write_bytes(sys.stdin.buffer.read())
""",
    "systemd-run": """
creds = Path(os.environ["FAKE_ROOT"]) / "run-credentials"
creds.mkdir(exist_ok=True)
while args[0].startswith("-"):
    flag = args.pop(0)
    if flag == "-p":
        prop = args.pop(0)
        if prop.startswith("LoadCredential="):
            name, source = prop.removeprefix("LoadCredential=").split(":", 1)
            shutil.copy(source, creds / name)
os.environ["CREDENTIALS_DIRECTORY"] = str(creds)
os.execv(args[0], args)
""",
}


def blocks() -> dict[str, tuple[str, str | None]]:
    """name -> (body, reason to skip or None), over every doc."""
    found: dict[str, tuple[str, str | None]] = {}
    for doc in DOCS:
        for m in BLOCK.finditer((REPO / doc).read_text()):
            name = m["name"] if m["name"] != "skip" else f"skip:{doc}:{len(found)}"
            assert name not in found, f"two blocks named {name}"
            found[name] = (m["body"], m["why"])
    return found


def test_every_shell_block_in_the_docs_says_how_the_suite_runs_it() -> None:
    for doc in DOCS:
        text = (REPO / doc).read_text()
        assert len(FENCE.findall(text)) == len(BLOCK.findall(text)), (
            f"{doc}: a ```sh block without a docs-test marker"
        )
    skipped = [why for _, why in blocks().values() if why is not None]
    assert all(skipped), "a skip must say why"


def in_root(body: str, root: Path) -> str:
    """The block with /etc and /opt moved under `root`."""
    return re.sub(r"(?<![\w.~/-])/(etc|opt)/", rf"{root}/\1/", body)


def fake_bin(root: Path) -> Path:
    folder = root / "fake-bin"
    folder.mkdir()
    for name, body in FAKES.items():
        script = folder / name
        script.write_text(
            f"#!{sys.executable}\nimport os, shutil, sys\nfrom pathlib import Path\n"
            f"args = sys.argv[1:]\n"
            f"with open(Path(os.environ['FAKE_ROOT']) / 'calls.log', 'a') as log:\n"
            f"    print({name!r}, *args, file=log)\n{body}"
        )
        script.chmod(0o755)
    return folder


def checkout_copy(tmp: Path) -> Path:
    """The checkout as a user gets it: sources, docs, config; no venv, caches or git."""
    ignore = shutil.ignore_patterns(
        ".git", ".venv", "__pycache__", "*.egg-info", "build", ".*cache"
    )
    return Path(shutil.copytree(REPO, tmp / "liverecd", ignore=ignore))


async def run_block(name: str, root: Path, cwd: Path, stdin: str = "") -> str:
    body, skip = blocks()[name]
    assert skip is None
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ALIBABA_CLOUD_", "CREDENTIALS_", "VIRTUAL_ENV"))
    }
    env |= {"FAKE_ROOT": str(root), "PATH": f"{root / 'fake-bin'}:{env.get('PATH', '')}"}
    proc = await asyncio.create_subprocess_exec(
        "bash", "-e", "-o", "pipefail", "-c", in_root(body, root), cwd=cwd, env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    async with asyncio.timeout(600):
        out, _ = await proc.communicate(stdin.encode())
    text = out.decode()
    assert proc.returncode == 0, f"block {name!r} failed ({proc.returncode}):\n{text}"
    return text


def unit_lines(unit: Path, key: str) -> list[str]:
    return re.findall(rf"^{key}=(.*)$", unit.read_text(), re.MULTILINE)


def verify(unit: Path, root: Path) -> None:
    """`systemd-analyze verify` on the installed unit (and drop-ins), ExecStart= on the venv
    the docs installed under `root`."""
    if ANALYZE is None:
        return
    folder = Path(tempfile.mkdtemp(dir=root)) / "system"
    shutil.copytree(unit.parent, folder)
    copy = folder / unit.name
    copy.write_text(copy.read_text().replace("ExecStart=/opt/", f"ExecStart={root}/opt/"))
    env = {**os.environ, "SYSTEMD_COLORS": "0", "SYSTEMD_PAGER": ""}
    result = subprocess.run(
        [ANALYZE, "verify", str(copy)], capture_output=True, text=True, timeout=60, env=env
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


@pytest.mark.slow
@pytest.mark.timeout(600)  # a real venv and `pip install .`: about 30 s, more on a busy host
async def test_the_systemd_install_steps_run_as_written(
    tmp_path: Path, emulator_factory: EmulatorFactory
) -> None:
    root = tmp_path / "root"
    (root / "etc" / "systemd" / "system").mkdir(parents=True)  # there on any systemd host
    fake_bin(root)
    src = checkout_copy(tmp_path)
    out = await run_block("install", root, src, stdin=TEST_SECRET + "\n")

    etc, unit = root / "etc" / "liverecd", root / "etc" / "systemd" / "system" / "liverecd.service"
    # check ran (bash -e: it passed) and named what the daemon needs; the unit loads all of it
    needed = re.findall(r"^credential (\w+) ", out, re.MULTILINE)
    loaded = {c.split(":", 1)[0]: c.split(":", 1)[1] for c in unit_lines(unit, "LoadCredential")}
    assert needed and set(needed) <= set(loaded), out
    for source in loaded.values():  # and step 3 created every file it loads
        assert (root / source.lstrip("/")).is_file(), source
    [doc] = unit_lines(unit, "Documentation")
    assert (root / doc.removeprefix("file:///")).is_file(), doc
    assert (etc / "schedules" / ".." / "schedule.schema.json").is_file()  # the $schema line
    assert "systemctl enable --now liverecd" in (root / "calls.log").read_text()
    verify(unit, root)

    # `fire` with the service's credentials, against an emulator standing in for the endpoint
    emu = await emulator_factory(accounts={KEY_ID: TEST_SECRET}, default_online=False)
    config = etc / "liverecd.yaml"
    config.write_text(config.read_text().replace("https://live.aliyuncs.com", emu.url))
    fired = await run_block("fire", root, src)
    assert ": idempotent_ok" in fired, fired
    assert [r.code for r in emu.requests] == ["StreamNotFound"]

    await run_block("encrypted", root, src, stdin=TEST_SECRET + "\n")
    assert not list((root / "etc" / "credstore").iterdir())  # the plain copies are shredded
    drop_in = unit.parent / "liverecd.service.d" / "encrypted-credentials.conf"
    for line in unit_lines(drop_in, "LoadCredentialEncrypted"):
        assert (root / line.split(":", 1)[1].lstrip("/")).read_text() in (KEY_ID, TEST_SECRET)
    verify(unit, root)


async def test_the_config_readme_commands_run_from_the_checkout(tmp_path: Path) -> None:
    bin_dir = Path(sys.executable).parent
    (tmp_path / "fake-bin").symlink_to(bin_dir)  # `liverecd` on PATH, as after an install
    await run_block("checkout", tmp_path, REPO)
