"""Unit tests: pure functions and in-process objects, no server, no subprocess (`make test-fast`)."""

from __future__ import annotations

import os

import pytest

from core.llm import setup_litellm


def pytest_configure(config: pytest.Config) -> None:
    # the offline model's tests call litellm directly: set it up as a worker's start does, before
    # a test module imports it
    setup_litellm()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ``IMPRESSOX_*`` variable of the developer's shell reaches the settings under test."""
    for key in list(os.environ):
        if key.startswith("IMPRESSOX_"):
            monkeypatch.delenv(key)
