"""onnxruntime runner: one InferenceSession per model, built once, single-threaded.

Takes a model file whose sha256 must match the registry's, gives `run(batch) -> outputs`. The
session uses intra_op_num_threads=1, inter_op_num_threads=1 and no spinning: on a 2-core machine
a spinning pool would burn the core the FIX engine needs.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort


class ModelLoadError(Exception):
    """A model file is missing, corrupt (sha256 mismatch, not ONNX) or has the wrong shape."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason  # "model_missing" | "model_corrupt" | "feature_schema_mismatch"
        self.detail = detail


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def session_options() -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return options


class OnnxRunner:
    def __init__(self, path: Path, *, expected_sha256: str | None, n_inputs: int, version: int = 0) -> None:
        self.path = path
        self.version = version
        try:
            model_bytes = path.read_bytes()
        except FileNotFoundError:
            raise ModelLoadError("model_missing", f"{path} does not exist") from None
        except OSError as exc:
            raise ModelLoadError("model_missing", f"{path}: {exc}") from None
        digest = hashlib.sha256(model_bytes).hexdigest()
        if expected_sha256 is not None and digest != expected_sha256:
            raise ModelLoadError(
                "model_corrupt",
                f"{path}: sha256 {digest[:16]}... does not match registered {expected_sha256[:16]}...",
            )
        try:
            self._session = ort.InferenceSession(
                model_bytes, sess_options=session_options(), providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph/... types
            raise ModelLoadError("model_corrupt", f"{path}: onnxruntime cannot load it: {exc}") from None
        inputs = self._session.get_inputs()
        if len(inputs) != 1:
            raise ModelLoadError("model_corrupt", f"{path}: expected 1 input, found {len(inputs)}")
        shape = inputs[0].shape
        if len(shape) != 2 or (isinstance(shape[1], int) and shape[1] != n_inputs):
            raise ModelLoadError(
                "feature_schema_mismatch", f"{path}: input shape {shape}, the feature schema gives {n_inputs}"
            )
        self.input_name: str = inputs[0].name
        self.output_name: str = self._session.get_outputs()[0].name
        self.n_inputs = n_inputs
        self._single = np.zeros((1, n_inputs), dtype=np.float32)

    def run(self, batch: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        """batch (rows, n_inputs) float32 -> one float64 output per row."""
        result = self._session.run([self.output_name], {self.input_name: batch})[0]
        return np.asarray(result, dtype=np.float64).reshape(-1)

    def run_one(self, inputs: npt.NDArray[np.float64]) -> float:
        single = self._single
        single[0, :] = inputs
        result = self._session.run([self.output_name], {self.input_name: single})[0]
        return float(result.reshape(-1)[0])
