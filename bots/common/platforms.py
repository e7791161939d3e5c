"""Where every chat platform is declared (plugins too: ``platforms.register(...)``), and the registry
a process serves: the built-in platforms and those of ``settings.platform_modules``
(``IMPRESSOX_PLATFORM_MODULES``), loaded like tools and chain handlers (``core.plugins``)."""

from __future__ import annotations

from collections.abc import Iterable

from core.errors import ConfigError
from core.platforms import PlatformDeclarations, PlatformRegistry
from core.plugins import import_modules
from core.settings import Settings

platforms = PlatformDeclarations()

#: the platforms this repository ships; each module is light (its app is imported when it runs)
BUILTIN_MODULES = ("bots.telegram.platform", "bots.discord.platform")


def load_platforms(extra_modules: Iterable[str] = ()) -> PlatformRegistry:
    """A registry of the built-in platforms and those the plugin modules declare."""
    extra = list(extra_modules)
    try:
        modules = import_modules(BUILTIN_MODULES, extra)
    except ImportError as exc:
        raise ConfigError(f"cannot import a chat platform module ({exc}; IMPRESSOX_PLATFORM_MODULES={extra})") from None
    return platforms.registry(modules)


def platforms_to_run(settings: Settings) -> list[str]:
    """What ``impressox up`` runs: the platforms of the registry whose token is set (each one's
    settings group validated, so a bad value fails before anything starts)."""
    return [platform.name for platform in load_platforms(settings.platform_modules).enabled(settings)]


__all__ = ["BUILTIN_MODULES", "load_platforms", "platforms", "platforms_to_run"]
