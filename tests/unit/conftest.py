"""Unit tests: pure functions and in-process objects, no server, no subprocess (`make test-fast`)."""

from __future__ import annotations

import pytest

from core.llm import setup_litellm


def pytest_configure(config: pytest.Config) -> None:
    # the offline model's tests call litellm directly: set it up as a worker's start does, before
    # a test module imports it
    setup_litellm()
