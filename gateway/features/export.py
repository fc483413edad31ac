"""Training set export: recorded decisions joined with forward returns as labels.

Takes feature-store files; gives a CSV (one row per decision with a label) and a schema JSON
beside it. The label of a decision on symbol s at time t is the log return of s's mid, in bps,
from t to the first decision on s at or after t + horizon: it uses only data after t, and a
decision with no such later point gets no label (and no row). Features use only data up to t
(see gateway.features.kernels), so no row leaks the future into its inputs.
"""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gateway.features import kernels
from gateway.features.store import StoredDecision, read_decisions

LABEL_NAME = "fwd_ret_bps"


@dataclass(frozen=True, slots=True, kw_only=True)
class ExportSummary:
    rows: int
    decisions: int
    unlabelled: int
    csv_path: Path
    schema_path: Path


def schema_path_for(csv_path: Path) -> Path:
    return csv_path.with_suffix(".schema.json")


def label_decisions(decisions: list[StoredDecision], horizon_ms: int) -> list[tuple[StoredDecision, float]]:
    """(decision, forward return in bps) for each decision that has a point horizon_ms later."""
    by_symbol: dict[tuple[str, str], list[StoredDecision]] = defaultdict(list)
    for decision in decisions:
        by_symbol[(decision.run_id, decision.symbol)].append(decision)
    horizon_ns = horizon_ms * 1_000_000
    labelled: list[tuple[StoredDecision, float]] = []
    for series in by_symbol.values():
        series.sort(key=lambda d: (d.ts_ns, d.decision_no))
        times = np.array([d.ts_ns for d in series], dtype=np.int64)
        # First index with ts >= t + horizon (strictly later data: horizon > 0).
        later = np.searchsorted(times, times + max(horizon_ns, 1), side="left")
        for index, decision in enumerate(series):
            j = int(later[index])
            if j >= len(series) or decision.mid_e8 <= 0 or series[j].mid_e8 <= 0:
                continue
            labelled.append((decision, math.log(series[j].mid_e8 / decision.mid_e8) * 1e4))
    labelled.sort(key=lambda pair: (pair[0].ts_ns, pair[0].run_id, pair[0].decision_no))
    return labelled


def export_training_set(stores: list[Path], out_csv: Path, *, horizon_ms: int) -> ExportSummary:
    decisions: list[StoredDecision] = []
    for store in stores:
        decisions.extend(read_decisions(store))
    labelled = label_decisions(decisions, horizon_ms)
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    index = kernels.MODEL_INPUT_INDEX
    columns = ["decision_id", "symbol", "ts_ns", *kernels.MODEL_INPUT_NAMES, LABEL_NAME]
    partial = out_csv.with_suffix(".csv.partial")
    with partial.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for decision, label in labelled:
            values = decision.features[index]
            writer.writerow(
                [
                    decision.decision_id,
                    decision.symbol,
                    decision.ts_ns,
                    *(repr(float(v)) for v in values),
                    repr(label),
                ]
            )
    partial.replace(out_csv)
    schema: dict[str, Any] = {
        "format": "csv",
        "columns": columns,
        "id_columns": ["decision_id", "symbol", "ts_ns"],
        "feature_columns": list(kernels.MODEL_INPUT_NAMES),
        "label": {
            "name": LABEL_NAME,
            "definition": "log(mid of the first decision on the symbol at or after ts + horizon"
            " / mid at ts) * 1e4",
            "horizon_ms": horizon_ms,
        },
        "feature_schema": kernels.feature_schema(),
        "feature_schema_hash": kernels.feature_schema_hash(),
        "rows": len(labelled),
        "sources": [str(store) for store in stores],
    }
    schema_path = schema_path_for(out_csv)
    schema_path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
    return ExportSummary(
        rows=len(labelled),
        decisions=len(decisions),
        unlabelled=len(decisions) - len(labelled),
        csv_path=out_csv,
        schema_path=schema_path,
    )


def read_training_set(csv_path: Path) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """(X float32 [rows, features], y float64 [rows], schema). Checks the schema file beside it."""
    schema_path = schema_path_for(csv_path)
    if not schema_path.exists():
        raise FileNotFoundError(f"{schema_path}: the schema file of {csv_path} is missing")
    schema = json.loads(schema_path.read_text())
    with csv_path.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        if header != schema["columns"]:
            raise ValueError(f"{csv_path}: columns {header} do not match its schema {schema['columns']}")
        first = len(schema["id_columns"])
        rows = [row[first:] for row in reader]
    if not rows:
        return np.zeros((0, len(schema["feature_columns"])), np.float32), np.zeros(0), schema
    matrix = np.array(rows, dtype=np.float64)
    return matrix[:, :-1].astype(np.float32), matrix[:, -1], schema
