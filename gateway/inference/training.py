"""Train a scikit-learn MLPRegressor on an exported training set, export it to ONNX with
skl2onnx, and check that ONNX and scikit-learn agree on a holdout.

Takes X (float32, rows x model inputs) and y (forward return, bps) in time order; gives the ONNX
bytes and metrics. The holdout is the *last* fraction of rows, never a shuffle: a shuffled split
would let the model see the future of its own test rows. (HistGradientBoosting is not used:
skl2onnx 1.20 cannot convert it.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from gateway.inference.runner import session_options

ONNX_INPUT_NAME = "features"
# float32 inference against float64 scikit-learn: differences above this are a conversion bug.
AGREEMENT_TOLERANCE = 1e-3


class TrainingError(Exception):
    """Too little data, or the ONNX export disagrees with scikit-learn."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainResult:
    onnx_bytes: bytes
    metrics: dict[str, Any]


def train_mlp(
    features: npt.NDArray[np.float32],
    labels: npt.NDArray[np.float64],
    *,
    hidden: tuple[int, ...] = (16, 16),
    epochs: int = 60,
    holdout_fraction: float = 0.2,
    seed: int = 7,
    progress: Callable[[int, int, float], None] | None = None,
) -> TrainResult:
    rows = len(labels)
    if rows < 50:
        raise TrainingError(f"{rows} labelled rows: need at least 50 to train and hold out")
    split = int(rows * (1 - holdout_fraction))
    x_train, x_hold = features[:split], features[split:]
    y_train, y_hold = labels[:split], labels[split:]

    scaler = StandardScaler().fit(x_train)
    scaled = scaler.transform(x_train)
    mlp = MLPRegressor(
        hidden_layer_sizes=hidden,
        alpha=1e-3,
        learning_rate_init=1e-3,
        batch_size=min(256, split),
        random_state=seed,
    )
    rng = np.random.default_rng(seed)
    for epoch in range(1, epochs + 1):
        order = rng.permutation(split)  # shuffling inside the training rows only
        mlp.partial_fit(scaled[order], y_train[order])
        if progress is not None:
            progress(epoch, epochs, float(mlp.loss_))
    pipeline = Pipeline([("scale", scaler), ("mlp", mlp)])

    onnx_model = convert_sklearn(
        pipeline, initial_types=[(ONNX_INPUT_NAME, FloatTensorType([None, features.shape[1]]))]
    )
    onnx_bytes = onnx_model.SerializeToString()
    session = ort.InferenceSession(
        onnx_bytes, sess_options=session_options(), providers=["CPUExecutionProvider"]
    )
    onnx_pred = np.asarray(session.run(None, {ONNX_INPUT_NAME: x_hold.astype(np.float32)})[0]).reshape(-1)
    sk_pred = pipeline.predict(x_hold.astype(np.float32))
    max_diff = float(np.max(np.abs(onnx_pred - sk_pred))) if len(sk_pred) else 0.0
    if not max_diff <= AGREEMENT_TOLERANCE * (1.0 + float(np.max(np.abs(sk_pred)))):
        raise TrainingError(f"ONNX and scikit-learn disagree on the holdout: max |diff| {max_diff:.3g}")

    residual = y_hold - sk_pred
    variance = float(np.var(y_hold))
    r2 = 1.0 - float(np.mean(residual**2)) / variance if variance > 0 else 0.0
    nonzero = y_hold != 0
    hit_rate = float(np.mean(np.sign(sk_pred[nonzero]) == np.sign(y_hold[nonzero]))) if nonzero.any() else 0.0
    corr = float(np.corrcoef(sk_pred, y_hold)[0, 1]) if np.std(sk_pred) > 0 and variance > 0 else 0.0
    metrics: dict[str, Any] = {
        "rows_train": int(split),
        "rows_holdout": int(rows - split),
        "holdout_r2": round(r2, 6),
        "holdout_mse": round(float(np.mean(residual**2)), 6),
        "holdout_corr": round(corr, 6),
        "holdout_hit_rate": round(hit_rate, 6),
        "onnx_sklearn_max_abs_diff": max_diff,
        "final_train_loss": float(mlp.loss_),
        "hidden_layers": list(hidden),
        "epochs": epochs,
        "label_std_bps": round(float(np.std(labels)), 6),
        "prediction_std_bps": round(float(np.std(sk_pred)), 6),
        # per model input, [min, max] over the training rows: live inputs far outside are refused
        "input_ranges": [[float(np.min(column)), float(np.max(column))] for column in x_train.T],
    }
    return TrainResult(onnx_bytes=onnx_bytes, metrics=metrics)
