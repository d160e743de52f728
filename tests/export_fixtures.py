"""Fixtures shared by the export tests (load with `pytest_plugins = ("export_fixtures",)`).

A recording made by the real Recorder into a real FileEvidenceStore, encrypted to an
authority identity made by the real `age-keygen`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from export_support import recorded
from media_fixtures import clip
from test_evidence_support import AgeIdentity, age_identity, make_store, new_session

from bodycam.firmware.evidence.session_key import SessionKey
from bodycam.firmware.evidence.store import FileEvidenceStore
from bodycam.hal.clocks import ManualClock


@pytest.fixture
def identity(tmp_path: Path) -> AgeIdentity:
    return age_identity(tmp_path)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start_monotonic=50.0)


@pytest.fixture
def key() -> SessionKey:
    return new_session()


@pytest.fixture
def store(tmp_path: Path, identity: AgeIdentity, clock: ManualClock,
          key: SessionKey) -> FileEvidenceStore:
    return make_store(tmp_path, identity, clock, key)


@pytest.fixture
def recording(store: FileEvidenceStore, clock: ManualClock) -> Path:
    """6 s in three 2 s segments."""
    return recorded(store, clock, clip(6.0), 2.0)  # type: ignore[arg-type]
