"""Chat platforms are registry entries (core/platforms.py): a third platform is one module of its own,
named by IMPRESSOX_PLATFORM_MODULES, and the shared code (the CLI, `up`, identities, reply splitting,
settings) serves it like Telegram and Discord, whose settings keep their variables."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from bots.common.platforms import load_platforms, platforms_to_run
from bots.common.streaming import StreamingReplies
from core.bots import ApprovalButton, Delivery, IdentityView
from core.errors import BadInputError, ConfigError
from core.schemas import ReplyAddress
from core.settings import load_settings

PLUGIN = "tests.plugins.chat_platform"
ROOT = Path(__file__).resolve().parents[2]
IMPRESSOX = Path(sys.executable).parent / "impressox"


pytestmark = pytest.mark.usefixtures("clean_env")  # tests/unit/conftest.py


@pytest.fixture
def with_pigeons(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMPRESSOX_PLATFORM_MODULES", json.dumps([PLUGIN]))


def test_the_plugin_module_registers_a_third_platform(with_pigeons: None) -> None:
    registry = load_platforms(load_settings().platform_modules)
    assert registry.names() == ["telegram", "discord", "pigeon"]
    pigeon = registry.get("pigeon")
    assert (pigeon.user_prefix, pigeon.text_limit, pigeon.module) == ("pg", 12, PLUGIN)
    assert load_platforms().names() == ["telegram", "discord"]  # a process that does not name it has none
    with pytest.raises(ConfigError, match="unknown chat platform 'owl'.*telegram, discord, pigeon"):
        registry.get("owl")


def test_a_module_that_does_not_import_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="cannot import a chat platform module"):
        load_platforms(["tests.plugins.no_such_platform"])


def test_impressox_bot_help_lists_it(with_pigeons: None, capsys: pytest.CaptureFixture[str]) -> None:
    from cli.main import main

    with pytest.raises(SystemExit):
        main(["bot", "--help"])
    shown = " ".join(capsys.readouterr().out.split())  # as one line (argparse wraps it)
    assert "pigeon (carrier pigeons; IMPRESSOX_PIGEON_TOKEN)" in shown
    assert "the platform: telegram, discord, pigeon" in shown


def test_its_settings_group_comes_from_its_variables_and_the_config_file(
    with_pigeons: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pigeon = load_platforms([PLUGIN]).get("pigeon")
    assert not pigeon.settings(load_settings()).enabled  # no token: not run by `up`
    config = tmp_path / "impressox.yaml"
    config.write_text("platforms:\n  pigeon:\n    loft: the barn\n    token: from-the-file\n")
    monkeypatch.setenv("IMPRESSOX_CONFIG", str(config))
    group = pigeon.settings(load_settings())
    assert (group.loft, group.token and group.token.get_secret_value()) == ("the barn", "from-the-file")
    monkeypatch.setenv("IMPRESSOX_PIGEON_TOKEN", "coo-very-secret")  # the environment over the file
    settings = load_settings()
    group = pigeon.settings(settings)
    assert group.enabled and group.loft == "the barn" and group.token is not None
    assert group.token.get_secret_value() == "coo-very-secret"
    for shown in (repr(settings), str(settings), str(settings.model_dump()), settings.model_dump_json(), repr(group)):
        assert "coo-very-secret" not in shown


def test_a_bad_value_in_its_group_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMPRESSOX_TELEGRAM_EDIT_INTERVAL_SECONDS", "0")
    telegram = load_platforms().get("telegram")
    with pytest.raises(ConfigError, match="IMPRESSOX_TELEGRAM_EDIT_INTERVAL_SECONDS: Input should be greater"):
        telegram.settings(load_settings())


def test_telegram_and_discord_keep_their_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {
        "IMPRESSOX_TELEGRAM_TOKEN": "123:abc",
        "IMPRESSOX_TELEGRAM_API_URL": "http://127.0.0.1:9/bot",
        "IMPRESSOX_TELEGRAM_EDIT_INTERVAL_SECONDS": "2.5",
        "IMPRESSOX_DISCORD_TOKEN": "dc-token",
        "IMPRESSOX_DISCORD_API_URL": "http://127.0.0.1:9/api/v10",
    }.items():
        monkeypatch.setenv(key, value)
    settings, registry = load_settings(), load_platforms()
    tg, dc = registry.get("telegram").settings(settings), registry.get("discord").settings(settings)
    assert tg.token is not None and tg.token.get_secret_value() == "123:abc"
    assert (tg.api_url, tg.edit_interval_seconds) == ("http://127.0.0.1:9/bot", 2.5)
    assert dc.token is not None and dc.token.get_secret_value() == "dc-token"
    assert (dc.api_url, dc.edit_interval_seconds) == ("http://127.0.0.1:9/api/v10", 1.2)
    assert [(p.name, p.user_prefix, p.text_limit) for p in registry] == [
        ("telegram", "tg", 4096),
        ("discord", "dc", 2000),
    ]


def test_up_starts_each_platform_whose_token_is_set(with_pigeons: None, monkeypatch: pytest.MonkeyPatch) -> None:
    assert platforms_to_run(load_settings()) == []
    monkeypatch.setenv("IMPRESSOX_PIGEON_TOKEN", "coo")
    assert platforms_to_run(load_settings()) == ["pigeon"]
    monkeypatch.setenv("IMPRESSOX_TELEGRAM_TOKEN", "123:abc")
    monkeypatch.setenv("IMPRESSOX_DISCORD_TOKEN", "")  # set but empty: not run
    assert platforms_to_run(load_settings()) == ["telegram", "pigeon"]


def test_its_unlinked_users_act_under_its_prefix(with_pigeons: None) -> None:
    from services.chats import ChatService

    settings = load_settings()
    chats = ChatService(None, settings, None, load_platforms(settings.platform_modules))  # type: ignore[arg-type]
    assert chats.owner(IdentityView(platform="pigeon", user_id="42")) == "pg-42"
    assert chats.owner(IdentityView(platform="telegram", user_id="42")) == "tg-42"
    assert chats.owner(IdentityView(platform="pigeon", user_id="42", linked_user="alice")) == "alice"
    chats._check("pigeon", "42")
    with pytest.raises(BadInputError, match="invalid chat identity owl:42"):
        chats._check("owl", "42")


class Loft:
    """A chat surface that keeps what it was sent (the pigeons' messages)."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def throttle_key(self, address: ReplyAddress, ref: str | None) -> str | None:
        return None

    async def send(self, address: ReplyAddress, text: str, *, first: bool, buttons: ApprovalButton | None) -> str:
        self.sent.append(text)
        return str(len(self.sent))

    async def edit(self, address: ReplyAddress, ref: str, text: str, *, buttons: ApprovalButton | None) -> None:
        self.sent[int(ref) - 1] = text

    async def delete(self, address: ReplyAddress, ref: str) -> None: ...


async def test_its_replies_are_split_at_its_text_limit(with_pigeons: None) -> None:
    pigeon = load_platforms([PLUGIN]).get("pigeon")
    loft = Loft()
    replies = StreamingReplies(loft, pigeon, None, interval=0.1)
    text = "coo coo\nthe barn is warm\nseeds at noon"
    address = ReplyAddress(platform="pigeon", chat_id="7", user_id="7")
    await ActivityEnvironment().run(replies.deliver, Delivery(address=address, text=text, key="m/reply"), "s")
    # whole lines where they fit in 12 characters (the pigeon's limit, not Telegram's 4,096), else cut
    assert loft.sent == ["coo coo", "the barn is ", "warm", "seeds at noo", "n"]


@pytest.mark.slow  # runs the installed CLI, a process
def test_impressox_bot_runs_it_until_sigterm(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMPRESSOX_")}
    env.update(
        PYTHONPATH=str(ROOT),
        IMPRESSOX_DATA_DIR=str(tmp_path / "data"),
        IMPRESSOX_TASK_QUEUE="pigeons-agent",
        IMPRESSOX_PLATFORM_MODULES=json.dumps([PLUGIN]),
    )
    unset = subprocess.run([IMPRESSOX, "bot", "pigeon"], env=env, capture_output=True, text=True, timeout=60)
    assert unset.returncode == 2 and "impressox: IMPRESSOX_PIGEON_TOKEN is not set" in unset.stderr, unset.stderr

    ready = tmp_path / "pigeon.ready"
    env.update(IMPRESSOX_PIGEON_TOKEN="coo", IMPRESSOX_PIGEON_LOFT="the barn")
    bot = subprocess.Popen([IMPRESSOX, "bot", "pigeon", "--ready-file", str(ready)], env=env, cwd=tmp_path)
    try:
        for _ in range(600):
            if ready.exists() and ready.read_text() or bot.poll() is not None:
                break
            time.sleep(0.1)
        assert json.loads(ready.read_text()) == {"pid": bot.pid, "loft": "the barn", "task_queue": "pigeons-pigeon"}
        bot.send_signal(signal.SIGTERM)
        assert bot.wait(60) == 0
        assert ready.with_suffix(".stopped").read_text() == "flown home"
    finally:
        if bot.poll() is None:
            bot.kill()
            bot.wait()
