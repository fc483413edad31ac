"""One feature definition online and offline: a recorded session replays to the same bits; the
export labels with forward returns only; `fixgw model train|list|activate|rollback`."""

from __future__ import annotations

import csv
import json
import math
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from gateway.decision import build_sink
from gateway.features import cli as features_cli
from gateway.features import kernels
from gateway.features.export import read_training_set
from gateway.features.replay import replay_features
from gateway.features.store import read_decisions
from gateway.inference import cli as model_cli
from gateway.inference.registry import ModelRegistry
from tests.unit.decision.helpers import (
    RecordingOrderPort,
    SyntheticMarket,
    constant_model_bytes,
    context,
    register_model,
)


@pytest.fixture(scope="module")
def recorded_session(tmp_path_factory) -> Path:
    """A session of 600 ticks with trading (so own position and PnL move), closed and flushed."""
    tmp_path = tmp_path_factory.mktemp("session")
    orders = RecordingOrderPort()
    register_model(tmp_path / "decision" / "models", constant_model_bytes(1.0), name="m")
    sink = build_sink(context(tmp_path, orders, table={"tracing": False}))
    market = SyntheticMarket(seed=11)
    sink.on_market_data(market.first(), "s", market.now_ns)
    for step in range(600):
        if step % 50 == 25:
            orders.set_position(
                "ACME", step // 50, avg_cost=f"{100 + step / 1000:.3f}", realized=f"{step / 7:.4f}"
            )
        message, recv_ns = market.step()
        sink.on_market_data(message, "s", recv_ns)
    sink.close()
    return tmp_path / "decision"


def test_offline_features_equal_online_features_bit_for_bit(recorded_session: Path) -> None:
    (ticklog,) = (recorded_session / "ticks").iterdir()
    online = list(read_decisions(recorded_session / "features.sqlite"))

    offline = list(replay_features(ticklog))

    assert len(offline) == len(online) == 601
    assert [d.decision_no for d in offline] == [d.decision_no for d in online]
    online_bits = np.stack([d.features for d in online]).view(np.uint64)
    offline_bits = np.stack([d.features for d in offline]).view(np.uint64)
    assert np.array_equal(online_bits, offline_bits)
    # The position really moved, so the position features were exercised.
    assert len({float(v) for v in np.stack([d.features for d in online])[:, -2]}) > 5


def test_features_build_command_reports_zero_differences(recorded_session: Path, capsys) -> None:
    status = features_cli.main(["build", "--state-dir", str(recorded_session)])

    out = capsys.readouterr().out
    assert status == 0
    assert "601 decisions rebuilt" in out and "601 compared with the feature store, 0 differ" in out


def test_features_build_detects_a_tampered_store(recorded_session: Path, tmp_path: Path, capsys) -> None:
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "ticks").mkdir()
    for ticklog in (recorded_session / "ticks").iterdir():
        (copy / "ticks" / ticklog.name).write_bytes(ticklog.read_bytes())
    with (
        sqlite3.connect(recorded_session / "features.sqlite") as src,
        sqlite3.connect(copy / "features.sqlite") as dst,
    ):
        src.backup(dst)
        dst.execute("UPDATE decisions SET features = zeroblob(length(features)) WHERE decision_no = 300")

    assert features_cli.main(["build", "--state-dir", str(copy)]) == 3
    assert "1 differ" in capsys.readouterr().out


def test_feature_at_time_t_does_not_change_when_later_data_arrives() -> None:
    rng = np.random.default_rng(5)
    steps = rng.normal(0, 0.01, size=(200,)).cumsum() + 100
    full_state, prefix_state = kernels.new_state(), kernels.new_state()
    full_out = np.zeros(kernels.N_FEATURES)
    prefix_out = np.zeros(kernels.N_FEATURES)
    at_100 = None
    for i, mid in enumerate(steps):
        kernels.step(full_state, mid - 0.01, mid + 0.01, 3.0, 4.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, full_out)
        if i == 100:
            at_100 = full_out.copy()
    for mid in steps[:101]:
        kernels.step(prefix_state, mid - 0.01, mid + 0.01, 3.0, 4.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, prefix_out)

    assert at_100 is not None and np.array_equal(at_100, prefix_out)


def test_kernel_values_on_a_hand_computed_book() -> None:
    state, out = kernels.new_state(), np.zeros(kernels.N_FEATURES)
    kernels.step(state, 99.0, 101.0, 1.0, 3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 10.0, out)
    kernels.step(state, 101.0, 103.0, 1.0, 3.0, 6.0, 2.0, 2.0, 100.0, 1.0, 10.0, out)
    values = dict(zip(kernels.FEATURE_NAMES, out, strict=True))

    assert values["mid"] == 102.0
    assert values["microprice"] == (101.0 * 3 + 103.0 * 1) / 4
    assert values["spread_bps"] == pytest.approx(2 / 102 * 1e4)
    assert values["book_imbalance"] == -0.5
    assert values["ret_1_bps"] == pytest.approx(math.log(102 / 100) * 1e4)
    assert values["ret_8_bps"] == 0.0  # not enough history yet: defined as 0, never the future
    assert values["rvol_32_bps"] == pytest.approx(abs(math.log(102 / 100)) * 1e4)
    assert values["trade_flow_imbalance_16"] == pytest.approx((6 - 2) / 8)
    assert values["ema_fast_dev_bps"] == pytest.approx((102 - (100 + 0.2 * 2)) / 102 * 1e4)
    assert values["position_frac"] == 0.2
    assert values["pnl_bps"] == pytest.approx((1.0 + 2 * (102 - 100)) / (10 * 102) * 1e4)


def test_export_labels_each_row_with_the_forward_return_after_its_time(
    recorded_session: Path, tmp_path
) -> None:
    out = tmp_path / "train.csv"

    status = features_cli.main(
        ["export", "--state-dir", str(recorded_session), "--horizon-ms", "200", "--out", str(out)]
    )

    assert status == 0
    schema = json.loads(out.with_suffix(".schema.json").read_text())
    assert schema["feature_schema_hash"] == kernels.feature_schema_hash()
    assert schema["label"]["horizon_ms"] == 200
    decisions = {d.decision_id: d for d in read_decisions(recorded_session / "features.sqlite")}
    series = sorted(decisions.values(), key=lambda d: d.ts_ns)
    with out.open() as handle:
        rows = list(csv.DictReader(handle))
    assert 0 < len(rows) < len(decisions)  # the last 200 ms have no label
    for row in rows[::37]:
        here = decisions[row["decision_id"]]
        later = next(d for d in series if d.ts_ns >= here.ts_ns + 200_000_000)
        assert later.ts_ns > here.ts_ns
        assert float(row["fwd_ret_bps"]) == pytest.approx(math.log(later.mid_e8 / here.mid_e8) * 1e4)
    features, labels, _ = read_training_set(out)
    assert features.shape == (len(rows), len(kernels.MODEL_INPUT_NAMES)) and len(labels) == len(rows)


def test_train_registers_an_onnx_model_that_list_activate_and_rollback_manage(
    recorded_session: Path, tmp_path: Path, capsys
) -> None:
    data = tmp_path / "train.csv"
    assert (
        features_cli.main(
            ["export", "--state-dir", str(recorded_session), "--horizon-ms", "200", "--out", str(data)]
        )
        == 0
    )
    registry_dir = tmp_path / "registry"
    register_model(registry_dir, constant_model_bytes(0.0), name="first")

    assert (
        model_cli.main(
            ["train", "--registry", str(registry_dir), "--data", str(data), "--epochs", "4", "--hidden", "8"]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "epoch    4/4" in out and "ONNX vs scikit-learn on the holdout" in out
    assert "registered version 2" in out

    registry = ModelRegistry(registry_dir)
    record = registry.get(2)
    assert record.metrics["rows_holdout"] > 0 and record.metrics["onnx_sklearn_max_abs_diff"] < 1e-3
    active = registry.active()
    assert active is not None and active.version == 1
    registry.close()

    assert model_cli.main(["activate", "--registry", str(registry_dir), "2"]) == 0
    assert model_cli.main(["list", "--registry", str(registry_dir)]) == 0
    listing = capsys.readouterr().out
    assert any(line.startswith("* ") and line.split()[1:3] == ["2", "mlp"] for line in listing.splitlines())
    assert model_cli.main(["rollback", "--registry", str(registry_dir)]) == 0
    assert "rolled back to version 1" in capsys.readouterr().out


def test_activating_a_model_of_another_feature_schema_is_refused(tmp_path: Path, capsys) -> None:
    registry_dir = tmp_path / "registry"
    register_model(registry_dir, constant_model_bytes(0.0), name="now")
    register_model(registry_dir, constant_model_bytes(0.0), name="old", activate=False)
    registry = ModelRegistry(registry_dir)
    registry._conn.execute("UPDATE models SET feature_schema_hash = 'abc' WHERE version = 2")
    registry.close()

    assert model_cli.main(["activate", "--registry", str(registry_dir), "2"]) == 1
    assert "trained on feature schema abc" in capsys.readouterr().err


def test_a_failed_store_flush_keeps_its_rows_for_the_next_one(tmp_path: Path) -> None:
    import sqlite3 as sq

    from gateway.features.store import FeatureStore

    store = FeatureStore(tmp_path / "f.sqlite", run_id="r1", started_ns=1, ticklog="", config_json="{}")
    store.add_md_event(("r1", 1, "ACME", "stale_market_data", "d", 1))
    blocker = sq.connect(tmp_path / "f.sqlite", timeout=0)
    blocker.execute("BEGIN EXCLUSIVE")
    store._conn.execute("PRAGMA busy_timeout=0")

    with pytest.raises(sq.OperationalError):
        store.flush()
    blocker.rollback()
    blocker.close()

    assert store.flush() == 1
    store.close()
    with sq.connect(tmp_path / "f.sqlite") as db:
        assert db.execute("SELECT reason FROM md_events").fetchall() == [("stale_market_data",)]
