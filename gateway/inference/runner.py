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
        output = self._session.get_outputs()[0]
        self.output_name: str = output.name
        self._output_rank = len(output.shape) if isinstance(output.shape, list) and output.shape else 2
        self.n_inputs = n_inputs
        # rows -> (input buffer, output buffer, binding). IO binding with buffers allocated once
        # skips the per-call input validation and output allocation of `InferenceSession.run`
        # (about 15 us instead of 27 us per run here).
        self._bound: dict[int, tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], object]] = {}

    def _binding(self, rows: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], object]:
        bound = self._bound.get(rows)
        if bound is None:
            inputs = np.zeros((rows, self.n_inputs), dtype=np.float32)
            outputs = np.zeros((rows, 1) if self._output_rank == 2 else (rows,), dtype=np.float32)
            binding = self._session.io_binding()
            binding.bind_cpu_input(self.input_name, inputs)
            binding.bind_ortvalue_output(self.output_name, ort.OrtValue.ortvalue_from_numpy(outputs))
            bound = self._bound[rows] = (inputs, outputs, binding)
        return bound

    def run(self, batch: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        """batch (rows, n_inputs) float32 -> one float64 output per row."""
        inputs, outputs, binding = self._binding(len(batch))
        np.copyto(inputs, batch)
        self._session.run_with_iobinding(binding)
        return outputs.astype(np.float64).reshape(-1)

    def bound_inputs(self, rows: int) -> npt.NDArray[np.float32]:
        """The input buffer bound for a batch of `rows`: fill it, then `run_bound(rows)`.
        Writing the features straight into it saves a copy per decision."""
        return self._binding(rows)[0]

    def run_bound(self, rows: int) -> list[float]:
        """Run the batch already written into `bound_inputs(rows)`; one output per row."""
        _, outputs, binding = self._binding(rows)
        self._session.run_with_iobinding(binding)
        # float32 -> Python float is exact, as astype(float64) was.
        values: list[float] = outputs.ravel().tolist()
        return values

    def run_one(self, inputs: npt.NDArray[np.float64] | npt.NDArray[np.float32]) -> float:
        bound_inputs, outputs, binding = self._binding(1)
        bound_inputs[0, :] = inputs
        self._session.run_with_iobinding(binding)
        return float(outputs.flat[0])

    def run_plain(self, batch: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        """`InferenceSession.run` without binding: the benchmark's bare-run baseline."""
        result = self._session.run([self.output_name], {self.input_name: batch})[0]
        return np.asarray(result, dtype=np.float64).reshape(-1)
