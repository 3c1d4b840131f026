"""A flow run's record in PREFECT_HOME (flows.runtime.liveness), in this process against
Prefect's test harness: locked while the run lives, gone when it ends, left alone
by the next run's look while its process lives; a PREFECT_HOME where no record
can be written does not stop the run. (A record whose process was killed:
tests/test_lifecycle.py.)"""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flows.runtime import liveness

pytestmark = pytest.mark.usefixtures("prefect_harness")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path))
    monkeypatch.setenv("FEEDWATCH_HEARTBEAT", "0")  # the records alone
    liveness.use_server(None)
    yield tmp_path
    liveness.use_server(None)


def _locked_by_another(path: Path) -> bool:
    with path.open() as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        return False


def test_a_run_keeps_its_record_locked_while_it_runs_and_removes_it_at_its_end(
    home: Path,
) -> None:
    from prefect import flow
    from prefect.client.orchestration import get_client

    seen: dict[str, Any] = {}

    @flow
    @liveness.with_signs_of_life
    def body() -> None:
        from prefect.runtime import flow_run

        seen["id"] = flow_run.get_id()
        seen["records"] = sorted(p.name for p in (home / "feedwatch-runs").iterdir())
        seen["locked"] = _locked_by_another(home / "feedwatch-runs" / f"{seen['id']}.json")
        seen["marked"] = liveness.crash_dead_runs()  # the look a concurrent run takes

    body()
    assert seen["records"] == [f"{seen['id']}.json"]
    assert seen["locked"] is True
    assert seen["marked"] == 0  # a live run's record is left alone
    assert list((home / "feedwatch-runs").iterdir()) == []
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(seen["id"]).state
    assert state is not None and state.type.value == "COMPLETED"


def test_a_run_that_fails_leaves_its_record_and_the_next_look_settles_it(home: Path) -> None:
    from prefect import flow

    @flow
    @liveness.with_signs_of_life
    def failing() -> None:
        raise ValueError("broken")

    with pytest.raises(ValueError):
        failing()
    (record,) = (home / "feedwatch-runs").iterdir()
    assert not _locked_by_another(record)  # its process let go of it
    assert liveness.crash_dead_runs() == 0  # the run is Failed: nothing to mark
    assert list((home / "feedwatch-runs").iterdir()) == []


def test_a_home_where_no_record_can_be_written_does_not_stop_the_run(
    home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from prefect import flow

    (home / "feedwatch-runs").write_text("a file where the folder would be")

    @flow
    @liveness.with_signs_of_life
    def body() -> int:
        return 7

    with caplog.at_level(logging.WARNING, logger="feedwatch"):
        assert body() == 7
    assert "no record of this run" in caplog.text
