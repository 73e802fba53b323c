"""Shared pytest setup: the repository root on sys.path and the golden-data folder."""
import os
import sys

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

GOLDEN = os.environ.get("GPSTOKEN_GOLDEN", os.path.join(os.path.dirname(REPO_ROOT), "shared", "golden"))
REFERENCE = os.path.join(os.path.dirname(GOLDEN), "reference")


@pytest.fixture(scope="session")
def golden_dir():
    """The golden outputs of the published implementation (../shared/golden)."""
    if not os.path.isdir(GOLDEN):
        pytest.fail(f"golden data not found at {GOLDEN}; set GPSTOKEN_GOLDEN to the folder")
    return GOLDEN


@pytest.fixture(scope="session")
def reference_dir():
    """The published state-dict layouts and configs (../shared/reference)."""
    return REFERENCE
