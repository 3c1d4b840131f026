"""feedwatch's flow runs send Prefect no heartbeats unless the operator asks for them
(flows.runtime.prefect_api.without_heartbeats): each costs a run about a second at its end."""

from __future__ import annotations

from typing import Any

from flows.runtime.prefect_api import without_heartbeats


def _heartbeat_seen_by_a_flow_run() -> Any:
    from prefect import flow
    from prefect.settings import get_current_settings

    @flow
    def probe() -> Any:
        return get_current_settings().flows.heartbeat_frequency

    return probe()


def test_flow_runs_send_no_heartbeats_unless_the_operator_set_them(prefect_harness: None) -> None:
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    assert _heartbeat_seen_by_a_flow_run() == 180  # Prefect's default, outside the block
    with without_heartbeats():
        assert _heartbeat_seen_by_a_flow_run() is None
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 60}), without_heartbeats():
        assert _heartbeat_seen_by_a_flow_run() == 60
