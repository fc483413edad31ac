"""Rebuild the shipped default model (models/default/) from the bundled simulator's market.

    python models/build_default.py [--seconds 120] [--seed 11] [--md-interval-ms 10] [--work DIR]

1. starts `fixgw sim` (seeded) and `fixgw run` with a [decision] table in shadow mode
   (`trade = false`: every tick is decided and recorded, no order is sent);
2. `fixgw features build` checks the recorded session replays to the same features;
3. `fixgw features export` joins the features with forward returns (`--horizon-ms`);
4. `fixgw model train` fits the MLP, exports ONNX, checks ONNX against scikit-learn;
5. copies the ONNX file and writes metadata.json (sha256, feature-schema hash, metrics).

Every step is a real command a user can run; the work directory keeps their outputs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DIR = REPO / "models" / "default"
FIXGW = [sys.executable, "-m", "fixgw.cli"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _run(command: list[str]) -> None:
    print("$ " + " ".join(command), flush=True)
    subprocess.run(command, cwd=REPO, check=True)


def record_session(work: Path, *, seconds: int, seed: int, md_interval_ms: int) -> Path:
    port = _free_port()
    gateway_toml = (REPO / "sessions" / "gateway-sim.toml").read_text()
    gateway_toml = gateway_toml.replace(
        'sessions_cfg = "gateway-sim.cfg"', f'sessions_cfg = "{REPO / "sessions" / "gateway-sim.cfg"}"'
    ).replace('state_dir = "var/gateway"', f'state_dir = "{work / "gateway"}"')
    gateway_toml += (
        '\n[decision]\ntrade = false\ntracing = false\nregistry_dir = "' + str(work / "none") + '"\n'
    )
    config = work / "gateway.toml"
    config.write_text(gateway_toml)
    sim_out = (work / "sim.out").open("w")
    sim = subprocess.Popen(
        [*FIXGW, "sim", "--config", "sessions/simulator.cfg", "--port", str(port), "--seed", str(seed),
         "--state-dir", str(work / "sim"), "--control-port", "0", "--md-interval-ms", str(md_interval_ms)],
        cwd=REPO, stdout=sim_out, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while "listening on" not in (work / "sim.out").read_text():
            if time.monotonic() > deadline or sim.poll() is not None:
                raise RuntimeError("the simulator did not start: " + (work / "sim.out").read_text())
            time.sleep(0.2)
        _run([*FIXGW, "run", "--config", str(config), "--port", str(port), "--seconds", str(seconds)])
    finally:
        sim.send_signal(signal.SIGTERM)
        try:
            sim.wait(timeout=20)
        except subprocess.TimeoutExpired:
            sim.kill()
        sim_out.close()
    return work / "gateway" / "decision"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=120)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--md-interval-ms", type=int, default=10)
    parser.add_argument("--horizon-ms", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--work", type=Path, help="keep the work here (default: a temporary directory)")
    parser.add_argument("--reuse", action="store_true", help="reuse the session already recorded in --work")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="fixgw-default-model-"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")

    if args.reuse:
        state = work / "gateway" / "decision"
    else:
        state = record_session(work, seconds=args.seconds, seed=args.seed, md_interval_ms=args.md_interval_ms)
    _run([*FIXGW, "features", "build", "--state-dir", str(state)])
    data = work / "train.csv"
    _run([*FIXGW, "features", "export", "--state-dir", str(state), "--horizon-ms", str(args.horizon_ms),
          "--out", str(data)])  # fmt: skip
    registry = work / "registry"
    shutil.rmtree(registry, ignore_errors=True)
    _run([*FIXGW, "model", "train", "--registry", str(registry), "--data", str(data), "--name", "default-mlp",
          "--epochs", str(args.epochs), "--activate"])  # fmt: skip

    sys.path.insert(0, str(REPO))
    from gateway.inference.registry import ModelRegistry

    reg = ModelRegistry(registry)
    record = reg.active()
    reg.close()
    assert record is not None and record.name == "default-mlp"
    DEFAULT_DIR.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(record.path, DEFAULT_DIR / "model.onnx")
    metadata = {
        "name": record.name,
        "file": "model.onnx",
        "sha256": record.sha256,
        "feature_schema_hash": record.feature_schema_hash,
        "input_names": list(record.input_names),
        "metrics": record.metrics,
        "trained_on": (
            f"bundled simulator, seed {args.seed}, {args.seconds} s at {args.md_interval_ms} ms market data, "
            f"labels: forward return over {args.horizon_ms} ms"
        ),
        "rebuild": "python models/build_default.py "
        f"--seconds {args.seconds} --seed {args.seed} --md-interval-ms {args.md_interval_ms} "
        f"--horizon-ms {args.horizon_ms} --epochs {args.epochs}",
    }
    (DEFAULT_DIR / "metadata.json").write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n")
    print(f"wrote {DEFAULT_DIR / 'model.onnx'} ({record.sha256[:16]}...) and metadata.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
