"""Checks that Python clients (secagg_client.py) take part in secure-aggregation rounds of a real Confide server.

It starts `confide server --secure-agg` processes on 127.0.0.1 (TLS, generated certificate; the `Server` class of
clients/python/interop_check.py) and checks:

1. Exact arithmetic, full graph: four Python clients with known deltas and sample counts run three secure rounds;
   each round's global model must equal the previous one plus the weighted mean Σ w·clip(d) / Σ w, within the
   quantizer's bound n / (s · Σ w) plus float32 rounding.
2. The same on a SecAgg+ graph (six clients, --neighbours 2, so the Harary graph and its seed matter) and with
   64-bit masked words (--secagg-bits 40).
3. A mixed round: three Python clients and one .NET `confide client` (training on digits); every round completes and
   every participant's contribution counts.
4. A dropout: one of four Python clients vanishes after ShareKeys in round 0; the round still completes with the
   other three's weighted mean (the server recovers the dropout's pairwise masks from Shamir shares).
5. Central DP under SecAgg (unit_weight: L2 clipping to C, weight 1): the rounds complete and the model step differs
   from Σ clip(d)/m by noise of the server's spread z·C/m only.

Usage: PYTHONPATH=GEN:clients/python python3 clients/python/secagg_check.py --confide "dotnet out/confide.dll" \
           --data src/Confide.Training/Data/digits.csv.gz [--only 1,2,3,4,5]
(GEN holds the classes protoc generated from protos/confide.proto). Run by .ci/interop-python.
Exits non-zero, naming the failed check, when anything differs.
"""

from __future__ import annotations

import argparse
import os
import random
import shlex
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

import confide_client as cc
import confide_pb2 as pb
from interop_check import Server, check, dotnet_client, f32, initial_model, new_client, next_train_task, run_all

import secagg_client as sa


@dataclass
class Run:
    """What the Python clients of one federation saw."""

    models: dict[int, list[float]] = field(default_factory=dict)
    deltas: dict[tuple[int, str], tuple[list[float], int]] = field(default_factory=dict)
    clip_norms: dict[tuple[int, str], float] = field(default_factory=dict)
    setups: dict[int, pb.SecAggSetup] = field(default_factory=dict)
    outcomes: dict[tuple[int, str], str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def known_delta(name: str, round_: int, length: int, amplitude: float) -> list[float]:
    """A client's delta of one round: seeded uniform values in [−amplitude, amplitude], a few beyond the clip range
    when amplitude > 1 (the quantizer clips them)."""
    rng = random.Random(f"{name}/{round_}")
    return [f32(rng.uniform(-amplitude, amplitude)) for _ in range(length)]


def python_participant(client: cc.ConfideClient, name: str, samples: int, run: Run, amplitude: float,
                       vanish: dict[int, str] | None = None, floor: float | None = None, deadline: float = 300) -> None:
    """Takes part in every secure round until FINISHED: fetches the model, sends a known delta through SecAgg.
    `vanish` maps a round to the stage before which this client goes silent; `floor` is its distributed-DP noise
    floor (secagg_client.run_secure_round's min_noise_multiplier)."""
    last, stop = -1, time.time() + deadline
    try:
        while time.time() < stop:
            task = next_train_task(client, last)
            if task is None:
                return
            if not task.HasField("secure_aggregation"):
                raise AssertionError(f"round {task.round}'s TRAIN task carries no SecAggSetup")
            model = cc.read_safetensors(client.fetch_model(task.round, task.model_bytes)).flat()
            delta = known_delta(name, task.round, len(model), amplitude)
            with run.lock:
                if run.models.setdefault(task.round, model) != model:
                    run.errors.append(f"{name} got another model for round {task.round}")
                run.setups.setdefault(task.round, task.secure_aggregation)
                run.deltas[(task.round, name)] = (delta, samples)
                run.clip_norms[(task.round, name)] = task.clip_norm
            result = sa.run_secure_round(client, task, delta, samples, vanish_before=(vanish or {}).get(task.round),
                                         min_noise_multiplier=floor)
            with run.lock:
                run.outcomes[(task.round, name)] = f"{result.outcome}: {result.detail}"
            last = task.round
        run.errors.append(f"{name} still running after {deadline} s")
    except Exception as e:  # surfaced by the caller
        run.errors.append(f"{name}: {type(e).__name__}: {e}")


def expected_mean(run: Run, round_: int, names: list[str], clip: float) -> tuple[list[float], int]:
    total = sum(run.deltas[(round_, n)][1] for n in names)
    length = len(run.models[round_])
    mean = [0.0] * length
    for n in names:
        d, w = run.deltas[(round_, n)]
        for i in range(length):
            mean[i] += w * min(max(d[i], -clip), clip)
    return [m / total for m in mean], total


def check_model_step(run: Run, round_: int, names: list[str], label: str) -> None:
    """w_{r+1} = w_r + weighted mean within n/(s·Σw) + float32 rounding of the result (server learning rate 1)."""
    setup = run.setups[round_]
    mean, total = expected_mean(run, round_, names, setup.clip_range)
    bound = len(names) / (setup.scale * total)
    worst, worst_excess = 0.0, 0.0
    for before, after, m in zip(run.models[round_], run.models[round_ + 1], mean):
        err = abs(after - (before + m))
        ulp = abs(f32(before + m)) * 2.0 ** -23 + 2.0 ** -149
        worst = max(worst, err)
        worst_excess = max(worst_excess, err - (bound + ulp))
    check(worst_excess <= 0, f"{label}: round {round_ + 1}'s model is off the weighted mean by up to {worst} (bound {bound})")
    print(f"  round {round_} → {round_ + 1}: max |w' − (w + mean)| = {worst:.3e} ≤ bound n/(s·Σw) = {bound:.3e} "
          f"(+ float32 rounding); n = {len(names)}, Σw = {total}, s = {setup.scale:g}, k = {setup.neighbour_count}, "
          f"t = {setup.threshold}, bits = {setup.modulus_bits}")


def arithmetic(confide: list[str], folder: str, clients: int, rounds: int, extra: list[str], label: str) -> None:
    """`clients` Python clients, `rounds` secure rounds, known deltas: the model must move by the weighted mean."""
    initial = initial_model(folder, {"dense.weight": [4, 8], "dense.bias": [6]})
    with Server(confide, folder, ["--secure-agg", "--rounds", str(rounds), "--clients-per-round", str(clients),
                                  "--deadline", "60", "--stage-deadline", "20", "--initial-model", initial] + extra,
                tokens=clients) as server:
        names = [f"py{i}" for i in range(clients)]
        samples = {n: s for n, s in zip(names, (3, 5, 7, 11, 2, 9, 4, 6))}
        run = Run()
        threads = [threading.Thread(target=python_participant,
                                    args=(new_client(server, server.tokens[i], n), n, samples[n], run, 1.25))
                   for i, n in enumerate(names)]
        run_all(threads, run.errors, label)
        check(sorted(run.models) == list(range(rounds)), f"{label}: models seen for rounds {sorted(run.models)}")
        bad = {k: v for k, v in run.outcomes.items() if not v.startswith("completed")}
        check(not bad and len(run.outcomes) == clients * rounds, f"{label}: outcomes {run.outcomes}")
        print(f"  {clients} Python clients × {rounds} rounds: every secure round completed "
              f"(session ids {', '.join(run.setups[r].session_id[:14] + '…' for r in sorted(run.setups))})")
        for r in range(rounds - 1):
            check_model_step(run, r, names, label)
    stored = server.submissions()
    print(f"  state.db submissions: {len(stored)} rows, statuses {sorted({s for _, _, s, _ in stored})}")


def dropout(confide: list[str], folder: str) -> None:
    """Four Python clients; py3 vanishes after ShareKeys (before its masked input) in round 0."""
    label = "dropout"
    initial = initial_model(folder, {"dense.weight": [4, 8], "dense.bias": [6]})
    with Server(confide, folder, ["--secure-agg", "--rounds", "2", "--clients-per-round", "4", "--min-updates", "3",
                                  "--deadline", "60", "--stage-deadline", "6", "--initial-model", initial], tokens=4) as server:
        names = ["py0", "py1", "py2", "py3"]
        samples = {"py0": 3, "py1": 5, "py2": 7, "py3": 11}
        run = Run()
        threads = []
        for i, n in enumerate(names):
            vanish = {0: "masked-input"} if n == "py3" else None
            threads.append(threading.Thread(target=python_participant,
                                            args=(new_client(server, server.tokens[i], n), n, samples[n], run, 0.75, vanish)))
        run_all(threads, run.errors, label)
        print(f"  round 0 outcomes: {dict(sorted((k[1], v) for k, v in run.outcomes.items() if k[0] == 0))}")
        check(run.outcomes.get((0, "py3"), "").startswith("vanished"), f"{label}: py3's outcome {run.outcomes.get((0, 'py3'))}")
        check(all(run.outcomes.get((0, n), "").startswith("completed") for n in names[:3]), f"{label}: {run.outcomes}")
        check(sorted(run.models) == [0, 1], f"{label}: models seen for rounds {sorted(run.models)}")
        check_model_step(run, 0, names[:3], label)
    stored = server.submissions()
    print(f"  state.db submissions: {stored}")


def mixed(confide: list[str], folder: str, data: str) -> None:
    """Three Python clients with known deltas and one .NET client training on digits, two secure rounds."""
    label = "mixed"
    with Server(confide, folder, ["--secure-agg", "--rounds", "2", "--clients-per-round", "4", "--deadline", "90",
                                  "--stage-deadline", "20", "--lr", "0.3"], tokens=4) as server:
        names = ["py0", "py1", "py2"]
        run = Run()
        threads = [threading.Thread(target=python_participant,
                                    args=(new_client(server, server.tokens[i], n), n, 50 + 10 * i, run, 0.02))
                   for i, n in enumerate(names)]
        with dotnet_client(confide, server, folder, server.tokens[3], "0/2") as dotnet:
            run_all(threads, run.errors, label)
            code = dotnet.wait(timeout=120)
            check(code == 0, f"{label}: the .NET client exited with {code}")
        bad = {k: v for k, v in run.outcomes.items() if not v.startswith("completed")}
        check(not bad and len(run.outcomes) == 6, f"{label}: outcomes {run.outcomes}")
        status = server_status(server)
        check(status.completed_rounds == 2, f"{label}: status {status}")
        print(f"  2 rounds completed; status: completed_rounds = {status.completed_rounds}, stage = {status.stage}, "
              f"stop_reason = {status.stop_reason}")
        # The exact .NET delta is unknown here, but the Python deltas (|d| ≤ 0.02, weights 50 to 70 of about 1080 in
        # all) move no coordinate by more than 0.004: a larger step is the .NET client's update in the secure sum.
        step = max(abs(a - b) for a, b in zip(run.models[0], run.models[1]))
        print(f"  largest coordinate step of the global model in round 0: {step:.4f}")
        check(0.01 < step < 10, f"{label}: the model moved by {step}")
        print("  .NET client output (tail):\n    " + "\n    ".join(tail(os.path.join(folder, "dotnet-client.log"), 6)))
    stored = server.submissions()
    print(f"  state.db submissions: {len(stored)} rows")
    for row in stored:
        print(f"    {row}")
    per_round = {r: {c for rr, c, s, _ in stored if rr == r and s == "accepted"} for r in (0, 1)}
    check(all(len(v) == 4 for v in per_round.values()), f"{label}: accepted per round {per_round}")
    print("  every round counts all four updates (three Python, one .NET)")


def central_dp(confide: list[str], folder: str) -> None:
    """Central DP under SecAgg (unit_weight): four Python clients L2-clip to C and send weight 1; the server adds
    N(0, z²C²) to the unmasked sum and divides by m = 4. The residual of the model step against Σ clip(d)/m must have
    the spread z·C/m of the server's noise (and no quantization or masking error beyond that)."""
    label = "central-dp"
    initial = initial_model(folder, {"dense.weight": [16, 16], "dense.bias": [16]})
    z, c, m = 0.5, 1.0, 4
    with Server(confide, folder, ["--secure-agg", "--rounds", "2", "--clients-per-round", str(m), "--deadline", "60",
                                  "--stage-deadline", "20", "--initial-model", initial, "--dp-noise", str(z),
                                  "--dp-clip", str(c), "--dp-client-clip", "--epsilon", "1000",
                                  "--population", str(m)], tokens=m) as server:
        names = [f"py{i}" for i in range(m)]
        run = Run()
        threads = [threading.Thread(target=python_participant,
                                    args=(new_client(server, server.tokens[i], n), n, 1, run, 0.25))
                   for i, n in enumerate(names)]
        run_all(threads, run.errors, label)
        bad = {k: v for k, v in run.outcomes.items() if not v.startswith("completed")}
        check(not bad and len(run.outcomes) == 2 * m, f"{label}: outcomes {run.outcomes}")
        setup = run.setups[0]
        check(setup.unit_weight and setup.max_weight == 1, f"{label}: setup {setup}")
        expected = [0.0] * len(run.models[0])
        for n in names:
            d, _ = run.deltas[(0, n)]
            norm = sum(v * v for v in d) ** 0.5
            k = min(1.0, c / norm)
            for i, v in enumerate(d):
                expected[i] += k * v / m
        residual = [after - before - e for before, after, e in zip(run.models[0], run.models[1], expected)]
        spread = (sum(r * r for r in residual) / len(residual)) ** 0.5
        target = z * c / m
        print(f"  both rounds completed with unit weights (s = {setup.scale:g}); residual spread of the step against "
              f"Σ clip(d)/m over {len(residual)} coordinates: {spread:.4f} (server noise z·C/m = {target:.4f})")
        check(0.75 * target < spread < 1.25 * target, f"{label}: the residual spread {spread} is not the noise's {target}")


def server_status(server: Server) -> pb.StatusResponse:
    probe = cc.ConfideClient(cc.pinned_channel(server.target, server.fingerprint), None)  # GetStatus is unsigned
    return probe.status()


def tail(path: str, lines: int) -> list[str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read().splitlines()[-lines:]
    except OSError:
        return []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--confide", required=True, help="how to run confide, e.g. \"dotnet out/confide.dll\"")
    parser.add_argument("--data", required=True, help="the digits CSV (gzip), for the .NET client")
    parser.add_argument("--only", default="1,2,3,4,5", help="which checks to run")
    parser.add_argument("--keep", help="keep the servers' folders under this path")
    args = parser.parse_args()
    confide = shlex.split(args.confide)
    only = set(args.only.split(","))
    with tempfile.TemporaryDirectory(prefix="secagg-check-") as scratch:
        run_checks(confide, only, args.keep or scratch, args.data)
    print("secure-aggregation check passed")
    return 0


def run_checks(confide: list[str], only: set[str], root: str, data: str) -> None:
    if "1" in only:
        print("1. exact arithmetic: four Python clients, full graph, Z_2^32, three secure rounds")
        arithmetic(confide, os.path.join(root, "c1"), 4, 3, [], "arithmetic")
    if "2" in only:
        print("2. SecAgg+ graph (six clients, k = 2) and 64-bit words (Z_2^40), three secure rounds")
        arithmetic(confide, os.path.join(root, "c2"), 6, 3, ["--neighbours", "2", "--secagg-bits", "40"], "harary")
    if "3" in only:
        print("3. a mixed round: three Python clients and one .NET client")
        mixed(confide, os.path.join(root, "c3"), data)
    if "4" in only:
        print("4. a Python client drops out after ShareKeys")
        dropout(confide, os.path.join(root, "c4"))
    if "5" in only:
        print("5. central DP under SecAgg: unit weights, L2 clipping, server noise")
        central_dp(confide, os.path.join(root, "c5"))


if __name__ == "__main__":
    sys.exit(main())
