"""Actindo POS driver: no marketplace, a fixed built-in model."""

from __future__ import annotations

import httpx

from contracts.drivers import PosCredentials, PosSettings
from services.driver_worker.drivers.base import build_driver
from services.driver_worker.drivers.pos import POS_MODEL
from tests.integration.drivers.conftest import ProgressRecorder, SleepRecorder


async def test_pos_accepts_empty_credentials_and_serves_its_fixed_model(
    http: httpx.AsyncClient, sleeps: SleepRecorder, progress: ProgressRecorder
) -> None:
    pos = build_driver("pos", http, sleep=sleeps)
    await pos.check_credentials(PosCredentials(), PosSettings())
    model = await pos.fetch_model(PosCredentials(), PosSettings(), progress)
    assert model == POS_MODEL
    assert len(model.attribute_sets) == 1
    assert set(model.attribute_sets[0].attribute_codes) == {a.code for a in model.attributes}
    assert progress.reports == [(8, 8)]
    await pos.clean_up(PosCredentials(), PosSettings())
