"""Shared test settings: every test runs on one thread (:func:`symbench.threads.one_thread`)."""

import pytest


@pytest.fixture(autouse=True)
def _one_thread():
    from symbench.threads import one_thread

    with one_thread():
        yield
