"""Wave-4 adversarial reproducers: each test here fails on main at 524a741 and states the
behaviour the library should have. They are collected as strict xfails so that `make test`
stays green until the fix lands; a fix turns its test into an XPASS, which fails the run
(strict) as a reminder to delete the mark (move the test next to its subject then)."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "adversarial_new" in str(item.fspath):
            item.add_marker(
                pytest.mark.xfail(strict=True, reason="wave-4 adversarial reproducer (open bug)")
            )
