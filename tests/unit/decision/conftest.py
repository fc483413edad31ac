from __future__ import annotations

import pytest

from gateway.features import kernels
from tests.unit.decision.helpers import trained_model_bytes


@pytest.fixture(scope="session", autouse=True)
def warm_kernels() -> None:
    # Compiles once (or loads numba's on-disk cache) for the whole session.
    kernels.warm()


@pytest.fixture(scope="session")
def model_bytes() -> bytes:
    return trained_model_bytes()
