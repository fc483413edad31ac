"""`fixgw model train|list|activate|rollback`.

The registry is `<state-dir>/models` (the gateway's decision state directory) or the directory
given with --registry. A running gateway notices activations and rollbacks within
`registry_poll_ms` and switches between two market-data messages.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from gateway.features import kernels
from gateway.features.export import read_training_set
from gateway.inference.registry import ModelRegistry, RegistryError
from gateway.inference.training import TrainingError, train_mlp


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fixgw model", description=__doc__.split("\n\n")[0])
    where = argparse.ArgumentParser(add_help=False)
    group = where.add_mutually_exclusive_group(required=True)
    group.add_argument("--state-dir", type=Path, help="decision state directory (registry in <dir>/models)")
    group.add_argument("--registry", type=Path, help="registry directory")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser(
        "train", parents=[where], help="train an MLP on an exported set, export ONNX, register"
    )
    train.add_argument("--data", type=Path, required=True, help="CSV from `fixgw features export`")
    train.add_argument("--name", default="mlp", help="model name (default mlp)")
    train.add_argument("--epochs", type=int, default=60)
    train.add_argument("--hidden", default="16,16", help="hidden layer sizes (default 16,16)")
    train.add_argument("--seed", type=int, default=7)
    train.add_argument("--activate", action="store_true", help="activate the new version")
    sub.add_parser("list", parents=[where], help="list registered versions")
    activate = sub.add_parser("activate", parents=[where], help="activate a version")
    activate.add_argument("version", type=int)
    sub.add_parser("rollback", parents=[where], help="re-activate the previously active version")
    return parser


def _registry(args: argparse.Namespace) -> ModelRegistry:
    directory: Path = args.registry if args.registry is not None else args.state_dir / "models"
    registry = ModelRegistry(directory)
    try:
        registry.ensure_default()
    except RegistryError as exc:  # training into an empty registry needs no shipped model
        print(f"fixgw model: note: {exc}", file=sys.stderr)
    return registry


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(list(argv) if argv is not None else None)
    try:
        registry = _registry(args)
    except (RegistryError, OSError) as exc:
        print(f"fixgw model: {exc}", file=sys.stderr)
        return 1
    try:
        if args.command == "train":
            return _train(registry, args)
        if args.command == "list":
            return _list(registry)
        if args.command == "activate":
            generation = registry.activate(args.version)
            print(f"activated version {args.version} (generation {generation})")
            return 0
        record = registry.rollback()
        print(f"rolled back to version {record.version} ({record.name})")
        return 0
    except (RegistryError, TrainingError, OSError, ValueError) as exc:
        print(f"fixgw model: {exc}", file=sys.stderr)
        return 1
    finally:
        registry.close()


def _train(registry: ModelRegistry, args: argparse.Namespace) -> int:
    features, labels, schema = read_training_set(args.data)
    if schema.get("feature_schema_hash") != kernels.feature_schema_hash():
        raise RegistryError(
            f"{args.data} was exported with feature schema {str(schema.get('feature_schema_hash'))[:12]}..., "
            f"this code computes {kernels.feature_schema_hash()[:12]}...: re-export it"
        )
    hidden = tuple(int(part) for part in args.hidden.split(",") if part)
    print(f"training MLP {hidden} on {len(labels)} rows x {features.shape[1]} features")

    def progress(epoch: int, epochs: int, loss: float) -> None:
        if epoch == epochs or epoch % max(1, epochs // 20) == 0:
            print(f"  epoch {epoch:>4}/{epochs}  loss {loss:.6f}", flush=True)

    result = train_mlp(features, labels, hidden=hidden, epochs=args.epochs, seed=args.seed, progress=progress)
    metrics = {**result.metrics, "label_horizon_ms": schema["label"]["horizon_ms"], "data": args.data.name}
    print(
        "holdout: "
        + ", ".join(f"{k}={metrics[k]}" for k in ("holdout_r2", "holdout_corr", "holdout_hit_rate"))
    )
    print(f"ONNX vs scikit-learn on the holdout: max |diff| {metrics['onnx_sklearn_max_abs_diff']:.3g}")
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = Path(tmp) / "model.onnx"
        onnx_path.write_bytes(result.onnx_bytes)
        record = registry.register(
            onnx_path,
            name=args.name,
            feature_schema_hash=kernels.feature_schema_hash(),
            input_names=list(kernels.MODEL_INPUT_NAMES),
            metrics=metrics,
            source=f"fixgw model train --data {args.data.name}",
        )
    print(f"registered version {record.version} sha256 {record.sha256[:16]}...")
    if args.activate:
        generation = registry.activate(record.version)
        print(f"activated version {record.version} (generation {generation})")
    return 0


def _list(registry: ModelRegistry) -> int:
    active = registry.active()
    print(
        f"{'':2}{'version':>7}  {'name':<12} {'created (UTC)':<19}  {'sha256':<12}  {'schema':<12}  metrics"
    )
    for record in registry.models():
        mark = "*" if active is not None and record.version == active.version else " "
        created = dt.datetime.fromtimestamp(record.created_ns / 1e9, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        summary = {k: record.metrics[k] for k in ("holdout_r2", "holdout_hit_rate") if k in record.metrics}
        schema_note = record.feature_schema_hash[:12]
        if record.feature_schema_hash != kernels.feature_schema_hash():
            schema_note += " (mismatch)"
        print(
            f"{mark:2}{record.version:>7}  {record.name:<12} {created:<19}  {record.sha256[:12]}  "
            f"{schema_note:<12}  {json.dumps(summary)}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
