"""Model registry: SQLite file `registry.sqlite` in a registry directory, model files beside it.

Each version keeps its ONNX file (copied in, named by its sha256), the sha256, the feature-schema
hash it was trained on, its input names and metrics. Activations form an append-only history:
the active model is the latest activation, `rollback` re-activates the model that was active
before it, and the history's length is the *generation* a running sink polls to notice a switch.
A model whose feature schema differs from the running code's is refused with a clear error.

The repository ships one trained model in `models/default/` (`model.onnx` + `metadata.json`); an
empty registry is seeded with it, sha256 verified.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from gateway.features import kernels
from gateway.inference.runner import sha256_file

DEFAULT_MODEL_DIR: Final = Path(__file__).resolve().parents[2] / "models" / "default"
REGISTRY_FILE: Final = "registry.sqlite"
SCHEMA_VERSION: Final = 1

_DDL: Final = """
CREATE TABLE IF NOT EXISTS models (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    file TEXT NOT NULL,               -- relative to the registry directory
    sha256 TEXT NOT NULL,
    feature_schema_hash TEXT NOT NULL,
    input_names TEXT NOT NULL,        -- JSON list
    metrics TEXT NOT NULL,            -- JSON object
    created_ns INTEGER NOT NULL,
    source TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS activations (
    generation INTEGER PRIMARY KEY,
    version INTEGER NOT NULL REFERENCES models(version),
    action TEXT NOT NULL,             -- 'activate' | 'rollback'
    activated_ns INTEGER NOT NULL
);
"""


class RegistryError(Exception):
    """A registry request that cannot be done (unknown version, schema mismatch, bad file)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelRecord:
    version: int
    name: str
    path: Path
    sha256: str
    feature_schema_hash: str
    input_names: tuple[str, ...]
    metrics: dict[str, Any]
    created_ns: int
    source: str


class ModelRegistry:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(directory / REGISTRY_FILE, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA busy_timeout=5000")
        if self._conn.execute("PRAGMA user_version").fetchone()[0] == 0:
            self._conn.executescript(_DDL)
            self._conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def close(self) -> None:
        self._conn.close()

    def register(
        self,
        onnx_path: Path,
        *,
        name: str,
        feature_schema_hash: str,
        input_names: tuple[str, ...] | list[str],
        metrics: dict[str, Any],
        source: str,
        expected_sha256: str | None = None,
    ) -> ModelRecord:
        digest = sha256_file(onnx_path)
        if expected_sha256 is not None and digest != expected_sha256:
            raise RegistryError(
                f"{onnx_path}: sha256 {digest} does not match its metadata ({expected_sha256})"
            )
        files = self.directory / "files"
        files.mkdir(exist_ok=True)
        relative = f"files/{digest}.onnx"
        target = self.directory / relative
        if not target.exists():
            partial = target.with_suffix(".partial")
            shutil.copyfile(onnx_path, partial)
            partial.replace(target)
        cursor = self._conn.execute(
            "INSERT INTO models (name, file, sha256, feature_schema_hash, input_names, metrics,"
            " created_ns, source)"
            " VALUES (?,?,?,?,?,?,?,?)",
            (
                name,
                relative,
                digest,
                feature_schema_hash,
                json.dumps(list(input_names)),
                json.dumps(metrics, sort_keys=True),
                time.time_ns(),
                source,
            ),
        )
        version = cursor.lastrowid
        assert version is not None
        return self.get(version)

    def get(self, version: int) -> ModelRecord:
        row = self._conn.execute(
            "SELECT version, name, file, sha256, feature_schema_hash, input_names, metrics,"
            " created_ns, source"
            " FROM models WHERE version = ?",
            (version,),
        ).fetchone()
        if row is None:
            raise RegistryError(f"no model version {version} in {self.directory}")
        return ModelRecord(
            version=row[0],
            name=row[1],
            path=self.directory / row[2],
            sha256=row[3],
            feature_schema_hash=row[4],
            input_names=tuple(json.loads(row[5])),
            metrics=json.loads(row[6]),
            created_ns=row[7],
            source=row[8],
        )

    def models(self) -> list[ModelRecord]:
        versions = [row[0] for row in self._conn.execute("SELECT version FROM models ORDER BY version")]
        return [self.get(version) for version in versions]

    def generation(self) -> int:
        row = self._conn.execute("SELECT max(generation) FROM activations").fetchone()
        return int(row[0] or 0)

    def active(self) -> ModelRecord | None:
        row = self._conn.execute(
            "SELECT version FROM activations ORDER BY generation DESC LIMIT 1"
        ).fetchone()
        return None if row is None else self.get(row[0])

    def active_with_generation(self) -> tuple[int, ModelRecord | None]:
        row = self._conn.execute(
            "SELECT generation, version FROM activations ORDER BY generation DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return 0, None
        return int(row[0]), self.get(row[1])

    def check_compatible(self, record: ModelRecord) -> None:
        """Raise RegistryError unless the model fits the running feature schema and its file is intact."""
        expected = kernels.feature_schema_hash()
        if record.feature_schema_hash != expected:
            raise RegistryError(
                f"model version {record.version} ({record.name}) was trained on feature schema "
                f"{record.feature_schema_hash[:12]}..., this gateway computes {expected[:12]}...: refused"
            )
        if tuple(record.input_names) != kernels.MODEL_INPUT_NAMES:
            raise RegistryError(
                f"model version {record.version} expects inputs {list(record.input_names)}, "
                f"the feature schema gives {list(kernels.MODEL_INPUT_NAMES)}: refused"
            )
        if not record.path.exists():
            raise RegistryError(f"model version {record.version}: file {record.path} is missing")
        digest = sha256_file(record.path)
        if digest != record.sha256:
            raise RegistryError(
                f"model version {record.version}: file {record.path} is corrupt (sha256 mismatch)"
            )

    def activate(self, version: int, *, action: str = "activate") -> int:
        """Make `version` active. Returns the new generation."""
        record = self.get(version)
        self.check_compatible(record)
        cursor = self._conn.execute(
            "INSERT INTO activations (version, action, activated_ns) VALUES (?,?,?)",
            (version, action, time.time_ns()),
        )
        generation = cursor.lastrowid
        assert generation is not None
        return generation

    def rollback(self) -> ModelRecord:
        """Re-activate the model that was active before the current one."""
        history = [
            row[0] for row in self._conn.execute("SELECT version FROM activations ORDER BY generation")
        ]
        if not history:
            raise RegistryError("nothing to roll back: no model was ever activated")
        current = history[-1]
        for version in reversed(history[:-1]):
            if version != current:
                self.activate(version, action="rollback")
                return self.get(version)
        raise RegistryError(f"nothing to roll back to: version {current} is the only model ever active")

    def ensure_default(self, default_dir: Path = DEFAULT_MODEL_DIR) -> ModelRecord | None:
        """Seed an empty registry with the shipped model and activate it. Returns it, or None
        when the registry already has models."""
        if self._conn.execute("SELECT count(*) FROM models").fetchone()[0] > 0:
            return None
        metadata_path = default_dir / "metadata.json"
        if not metadata_path.exists():
            raise RegistryError(f"the shipped default model is missing: {metadata_path}")
        metadata = json.loads(metadata_path.read_text())
        record = self.register(
            default_dir / metadata["file"],
            name=metadata["name"],
            feature_schema_hash=metadata["feature_schema_hash"],
            input_names=metadata["input_names"],
            metrics=metadata["metrics"],
            source="shipped default (" + metadata.get("trained_on", "bundled simulator") + ")",
            expected_sha256=metadata["sha256"],
        )
        self.activate(record.version)
        return record
