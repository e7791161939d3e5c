"""Chat platforms: one registry entry per platform, declared by the platform's own module.

An entry says everything the shared code needs to know about a platform: its name (``impressox bot
NAME``, the ``platform`` of its reply addresses, its delivery task queue ``impressox-<name>``), the
prefix of its unlinked users' names (``tg-<id>``), how many characters one message holds (longer
replies are split), its settings group (a pydantic model the platform owns, read from
``IMPRESSOX_<NAME>_<FIELD>``) and how to run it. Declaring is all ``platforms.register(...)`` does;
a process builds the registry it serves from the modules it names (``bots.common.platforms``:
the built-in ones and ``settings.platform_modules``), as with tools.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Coroutine, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from core.errors import ConfigError
from core.settings import Settings

#: a platform's name: one lower-case word (it is the middle of ``IMPRESSOX_<NAME>_<FIELD>``)
PLATFORM_NAME = r"^[a-z][a-z0-9]{1,31}$"


class PlatformSettings(BaseModel):
    """A platform's settings group; subclass it with the platform's own fields. Each field ``f`` is
    read from ``IMPRESSOX_<NAME>_<F>`` (or ``platforms: {<name>: {f: ...}}`` in the config file)."""

    model_config = ConfigDict(extra="ignore")

    #: the platform's credentials: ``impressox up`` runs each platform whose token is set
    token: SecretStr | None = None

    @property
    def enabled(self) -> bool:
        return self.token is not None and bool(self.token.get_secret_value())


S = TypeVar("S", bound=PlatformSettings)
#: ``run(settings, its settings group, stop, ready_file)``: serve until ``stop`` is set; write the
#: ready file (the process id) once the platform serves
RunPlatform = Callable[[Settings, S, asyncio.Event, Path | None], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class ChatPlatform(Generic[S]):
    """One chat platform, as ``platforms.register(...)`` declared it."""

    name: str
    #: unlinked chat users act as the platform user ``<user_prefix>-<their id>``
    user_prefix: str
    #: characters per message: longer replies are split on line boundaries
    text_limit: int
    settings_model: type[S]
    run: RunPlatform[S]
    #: the module that declared it
    module: str
    #: one line for ``impressox bot --help``
    description: str = ""

    def env_var(self, field: str) -> str:
        """The environment variable of one field of the settings group: ``IMPRESSOX_TELEGRAM_TOKEN``."""
        return f"IMPRESSOX_{self.name}_{field}".upper()

    def settings(self, settings: Settings) -> S:
        """This platform's settings group, validated; a bad value fails naming its variable."""
        try:
            return self.settings_model.model_validate(settings.platforms.get(self.name, {}))
        except ValidationError as exc:
            problems = "; ".join(
                f"{self.env_var(str(err['loc'][0])) if err['loc'] else self.name}: {err['msg']}" for err in exc.errors()
            )
            raise ConfigError(f"invalid configuration: {problems}") from None

    def user(self, user_id: str) -> str:
        """The platform user an unlinked chat user of this platform acts as."""
        return f"{self.user_prefix}-{user_id}"


class PlatformRegistry:
    """The chat platforms one process serves, by name, in declaration order."""

    def __init__(self, entries: Iterable[ChatPlatform[Any]] = ()) -> None:
        self._by_name: dict[str, ChatPlatform[Any]] = {}
        for entry in entries:
            if entry.name in self._by_name:
                first = self._by_name[entry.name].module
                raise ConfigError(f"chat platform {entry.name!r} is declared twice ({first}, {entry.module})")
            self._by_name[entry.name] = entry

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[ChatPlatform[Any]]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    def names(self) -> list[str]:
        return list(self._by_name)

    def get(self, name: str) -> ChatPlatform[Any]:
        try:
            return self._by_name[name]
        except KeyError:
            known = ", ".join(self._by_name) or "none"
            raise ConfigError(
                f"unknown chat platform {name!r} (known: {known}; more with IMPRESSOX_PLATFORM_MODULES)"
            ) from None

    def enabled(self, settings: Settings) -> list[ChatPlatform[Any]]:
        """The platforms whose token is set (each group validated: a bad value fails here)."""
        return [entry for entry in self if entry.settings(settings).enabled]


class PlatformDeclarations:
    """What ``platforms.register(...)`` records: each module's declared platforms, not a live registry
    (``registry(modules)`` builds one from the modules a process asked for)."""

    def __init__(self) -> None:
        self._by_module: dict[str, dict[str, ChatPlatform[Any]]] = {}

    def register(
        self,
        name: str,
        *,
        user_prefix: str,
        text_limit: int,
        settings: type[S],
        run: RunPlatform[S],
        description: str = "",
    ) -> ChatPlatform[S]:
        """Declare the platform ``name``, run by ``async def run(settings, config, stop, ready_file)``,
        in ``run``'s module; the entry (a module keeps it, e.g. ``TELEGRAM = platforms.register(...)``)."""
        if not re.match(PLATFORM_NAME, name):
            raise ValueError(f"a chat platform's name is one lower-case word (a-z, 0-9), not {name!r}")
        if not re.match(r"^[a-z0-9]{1,8}$", user_prefix):
            raise ValueError(f"a user prefix is a short lower-case word (a-z, 0-9), not {user_prefix!r}")
        if text_limit < 1:
            raise ValueError(f"a message holds at least one character, not {text_limit}")
        entry = ChatPlatform(name, user_prefix, text_limit, settings, run, run.__module__, description)
        # a module imported afresh (a test, a reload) declares its platform again: the last one counts
        self._by_module.setdefault(run.__module__, {})[name] = entry
        return entry

    def declared_in(self, module: str) -> list[ChatPlatform[Any]]:
        return list(self._by_module.get(module, {}).values())

    def registry(self, modules: Iterable[str]) -> PlatformRegistry:
        """A new registry with the platforms the named (already imported) modules declared."""
        return PlatformRegistry(entry for module in dict.fromkeys(modules) for entry in self.declared_in(module))
