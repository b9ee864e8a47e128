"""Checks that Python clients (secagg_client.py) take part in distributed-DP secure rounds of a real Confide server
(`confide server --secure-agg --dp-mode distributed`: each client clips, rounds conditionally and adds its own
discrete Gaussian noise before masking; Kairouz, Liu, Steinke, ICML 2021), and in secure rounds with the
adaptive-clipping indicator (Andrew et al., NeurIPS 2021).

1. Four Python clients, three distributed-DP rounds (--dp-noise z, --dp-clip C): every round completes, and the model
   step minus Σ clip(d)/m has the spread the clients' noise gives: per coordinate the decoded sum carries m
   independent N_Z(0, σ²) (variance mσ² quanta², to within 2.2·10⁻⁷ relative for σ ≥ 1) plus the rounding variance
   Σ p(1 − p), divided by s·m, so sd = √(mσ² + Σp(1 − p)) / (s·m). The sample sd over N coordinates has relative
   standard error ≈ 1/√(2N); the check allows 5 standard errors.
2. A mixed distributed-DP round: three Python clients and one .NET `confide client`; every round completes and counts
   all four.
3. Adaptive clipping under SecAgg (central DP, --dp-adaptive-quantile 0.5, --dp-count-noise 0.3): the clients send the clip indicator as
   the last coordinate of the secure sum; the rounds complete and the clip norm moves: it shrinks when every update is
   below C (indicators 1) and grows when every update is above C (indicators 0), so the indicators reach the sum.
4. n_min: four Python clients with --dp-min-survivors 4; one vanishes before its masked input in round 0: the others
   must not help release a sum of three (they refuse a survivor list shorter than n_min, or the server fails the
   round first): round 0 fails with nothing charged in the ledger, and round 1 completes with all four.
5. A client's own noise floor (min_noise_multiplier above the round's z) makes it sit the round out.

Usage: PYTHONPATH=GEN:clients/python python3 clients/python/ddp_check.py --confide "dotnet out/confide.dll"
[--only 1,2,3,4,5] [--keep DIR] (GEN holds the classes protoc generated from protos/confide.proto). Run by
.ci/interop-python.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import sys
import tempfile
import threading

import confide_client as cc
from interop_check import Server, check, dotnet_client, initial_model, new_client, run_all
from secagg_check import Run, python_participant, server_status, tail

import secagg_client as sa


def participant(client: cc.ConfideClient, name: str, run: Run, amplitude: float, vanish: dict[int, str] | None = None,
                floor: float | None = None) -> None:
    """A Python client of these checks: weight 1 (DP rounds), a known delta, an optional dropout and noise floor."""
    python_participant(client, name, 1, run, amplitude, vanish, floor)


def clipped(d: list[float], c: float) -> list[float]:
    return sa.l2_clip_f32([float(x) for x in d], c)


def describe(setup) -> str:
    plan = sa.Setup.from_proto(setup, 0, setup.roster[0].client_id).dp_plan()
    return (f"σ² = {setup.dp_noise_variance} quanta² (σ = {math.sqrt(setup.dp_noise_variance):.1f}), s = {setup.scale:g}, "
            f"c = {setup.clip_range:g}, k = {setup.modulus_bits}, N = {setup.max_clients}, n_min = {setup.dp_min_survivors}, "
            f"β = {setup.dp_rounding_beta:.4f}, d = {setup.dimension}; client-side plan: Δ₂ = {plan.l2_sensitivity:.1f}, "
            f"headroom ⌈12σ⌉ = {plan.noise_headroom}, z = {plan.effective_noise_multiplier:.4f}")


def noise_spread(confide: list[str], folder: str) -> None:
    label = "distributed-dp"
    initial = initial_model(folder, {"dense.weight": [32, 32], "dense.bias": [32]})
    z, c, m, rounds = 0.5, 1.0, 4, 3
    with Server(confide, folder, ["--secure-agg", "--dp-mode", "distributed", "--rounds", str(rounds),
                                  "--clients-per-round", str(m), "--deadline", "60", "--stage-deadline", "20",
                                  "--initial-model", initial, "--dp-noise", str(z), "--dp-clip", str(c),
                                  "--dp-client-clip", "--epsilon", "1000", "--population", str(m)], tokens=m) as server:
        names = [f"py{i}" for i in range(m)]
        run = Run()
        threads = [threading.Thread(target=participant, args=(new_client(server, server.tokens[i], n), n, run, 0.25))
                   for i, n in enumerate(names)]
        run_all(threads, run.errors, label)
        bad = {k: v for k, v in run.outcomes.items() if not v.startswith("completed")}
        check(not bad and len(run.outcomes) == rounds * m, f"{label}: outcomes {run.outcomes}")
        setup = run.setups[0]
        check(setup.dp_noise_variance > 0 and setup.unit_weight and setup.max_weight == 1, f"{label}: setup {setup}")
        print(f"  {m} Python clients × {rounds} rounds: every distributed-DP secure round completed")
        print(f"  setup: {describe(setup)}")
        residuals, expected_var = [], []
        for r in range(rounds - 1):
            s = run.setups[r]
            sigma2, scale = float(s.dp_noise_variance), s.scale
            exp = [0.0] * len(run.models[r])
            rounding = [0.0] * len(exp)
            for n in names:
                d, _ = run.deltas[(r, n)]
                for i, v in enumerate(clipped(d, s.clip_range)):
                    exp[i] += v / m
                    q = v * scale
                    p = q - math.floor(q)
                    rounding[i] += p * (1 - p)
            for i, (before, after) in enumerate(zip(run.models[r], run.models[r + 1])):
                residuals.append(after - before - exp[i])
                expected_var.append((m * sigma2 + rounding[i]) / (scale * m) ** 2)
        n = len(residuals)
        mean = sum(residuals) / n
        sd = math.sqrt(sum(x * x for x in residuals) / n)  # the noise has mean 0: no mean is estimated
        target = math.sqrt(sum(expected_var) / n)
        se = 1 / math.sqrt(2 * n)
        print(f"  residual of the steps against Σ clip(d)/m over {n} coordinates ({rounds - 1} steps): mean {mean:.3e}, "
              f"sd {sd:.5f}; expected √(mσ² + Σp(1−p))/(s·m) = {target:.5f} (z·C/m = {z * c / m:.5f}); "
              f"ratio {sd / target:.4f}, allowed 1 ± 5·{se:.4f}")
        check(abs(sd / target - 1) < 5 * se, f"{label}: the residual sd {sd} is not the noise's {target}")
        check(abs(mean) < 5 * target / math.sqrt(n), f"{label}: the residual mean {mean} is not 0")
        status = server_status(server)
        print(f"  status: completed_rounds = {status.completed_rounds}, stop_reason = {status.stop_reason!r}")
    stored = server.submissions()
    print(f"  state.db submissions: {len(stored)} rows, statuses {sorted({s for _, _, s, _ in stored})}")


def mixed(confide: list[str], folder: str) -> None:
    label = "mixed-distributed-dp"
    with Server(confide, folder, ["--secure-agg", "--dp-mode", "distributed", "--rounds", "2", "--clients-per-round", "4",
                                  "--deadline", "90", "--stage-deadline", "20", "--lr", "0.3", "--dp-noise", "0.5",
                                  "--dp-clip", "1", "--dp-client-clip", "--epsilon", "1000", "--population", "4"],
                tokens=4) as server:
        names = ["py0", "py1", "py2"]
        run = Run()
        threads = [threading.Thread(target=participant, args=(new_client(server, server.tokens[i], n), n, run, 0.02))
                   for i, n in enumerate(names)]
        with dotnet_client(confide, server, folder, server.tokens[3], "0/2") as dotnet:
            run_all(threads, run.errors, label)
            code = dotnet.wait(timeout=120)
            check(code == 0, f"{label}: the .NET client exited with {code}")
        print(f"  setup: {describe(run.setups[0])}")
        bad = {k: v for k, v in run.outcomes.items() if not v.startswith("completed")}
        check(not bad and len(run.outcomes) == 6, f"{label}: outcomes {run.outcomes}")
        status = server_status(server)
        check(status.completed_rounds == 2, f"{label}: status {status}")
        print(f"  2 rounds completed; status: completed_rounds = {status.completed_rounds}, stop_reason = {status.stop_reason!r}")
        print("  .NET client output (tail):\n    " + "\n    ".join(tail(os.path.join(folder, "dotnet-client.log"), 6)))
    stored = server.submissions()
    for row in stored:
        print(f"    {row}")
    per_round = {r: {cl for rr, cl, s, _ in stored if rr == r and s == "accepted"} for r in (0, 1)}
    check(all(len(v) == 4 for v in per_round.values()), f"{label}: accepted per round {per_round}")
    print("  every distributed-DP round counts all four updates (three Python, one .NET)")


def adaptive(confide: list[str], folder: str, amplitude: float, shrink: bool) -> None:
    """Every update's norm is below C (amplitude 0.01: every indicator 1, so the clip norm must shrink toward the
    median) or above it (amplitude 0.5: every indicator 0, so it must grow)."""
    label = f"adaptive-clipping ({'shrink' if shrink else 'grow'})"
    initial = initial_model(folder, {"dense.weight": [8, 8], "dense.bias": [8]})
    m, rounds = 4, 3
    with Server(confide, folder, ["--secure-agg", "--rounds", str(rounds), "--clients-per-round", str(m), "--deadline", "60",
                                  "--stage-deadline", "20", "--initial-model", initial, "--dp-noise", "0.5", "--dp-clip", "1",
                                  "--dp-client-clip", "--dp-adaptive-quantile", "0.5", "--dp-count-noise", "0.3", "--epsilon", "1000",
                                  "--population", str(m)], tokens=m) as server:
        names = [f"py{i}" for i in range(m)]
        run = Run()
        threads = [threading.Thread(target=participant, args=(new_client(server, server.tokens[i], n), n, run, amplitude))
                   for i, n in enumerate(names)]
        run_all(threads, run.errors, label)
        bad = {k: v for k, v in run.outcomes.items() if not v.startswith("completed")}
        check(not bad and len(run.outcomes) == rounds * m, f"{label}: outcomes {run.outcomes}")
        s0 = run.setups[0]
        check(s0.clip_indicator and s0.clip_indicator_index == s0.dimension - 1 and s0.dimension == 72 + 2,
              f"{label}: setup {s0}")
        clips = [(run.setups[r].clip_range, run.clip_norms[(r, 'py0')]) for r in range(rounds)]
        norms = [math.sqrt(sum(v * v for v in run.deltas[(0, n)][0])) for n in names]
        print(f"  setup: clip_indicator = {s0.clip_indicator}, index {s0.clip_indicator_index}, dimension {s0.dimension} "
              f"(72 parameters + weight + indicator)")
        print(f"  update norms in round 0: {', '.join(f'{x:.3f}' for x in norms)} "
              f"({'all below C: every indicator is 1' if shrink else 'all above C: every indicator is 0'})")
        print(f"  (setup.clip_range, task.clip_norm) per round: {clips}")
        check(all(n < 1 for n in norms) if shrink else all(n > 2 for n in norms), f"{label}: norms {norms}")
        check(all((a > b) if shrink else (a < b) for (a, _), (b, _) in zip(clips, clips[1:])),
              f"{label}: the clip norm did not {'shrink' if shrink else 'grow'}: {clips}")
        print(f"  every round completed and the clip norm {'shrank' if shrink else 'grew'} each round (quantile 0.5)")


def min_survivors(confide: list[str], folder: str) -> None:
    label = "n_min"
    initial = initial_model(folder, {"dense.weight": [4, 8], "dense.bias": [6]})
    with Server(confide, folder, ["--secure-agg", "--dp-mode", "distributed", "--rounds", "2", "--clients-per-round", "4",
                                  "--min-updates", "3", "--dp-min-survivors", "4", "--deadline", "60", "--stage-deadline",
                                  "6", "--initial-model", initial, "--dp-noise", "0.5", "--dp-clip", "1",
                                  "--dp-client-clip", "--epsilon", "1000", "--population", "4"], tokens=4) as server:
        names = ["py0", "py1", "py2", "py3"]
        run = Run()
        threads = [threading.Thread(target=participant, args=(new_client(server, server.tokens[i], n), n, run, 0.25,
                                                              {0: "masked-input"} if n == "py3" else None))
                   for i, n in enumerate(names)]
        run_all(threads, run.errors, label)
        print(f"  setup: n_min = {run.setups[0].dp_min_survivors}")
        for r in sorted({k[0] for k in run.outcomes}):
            print(f"  round {r} outcomes: {dict(sorted((k[1], v) for k, v in run.outcomes.items() if k[0] == r))}")
        r0 = {n: run.outcomes.get((0, n), "") for n in names}
        check(r0["py3"].startswith("vanished"), f"{label}: py3 {r0['py3']}")
        check(not any(v.startswith("completed: sent") for v in r0.values()), f"{label}: a client unmasked a short sum: {r0}")
        status = server_status(server)
        print(f"  status: completed_rounds = {status.completed_rounds}, stop_reason = {status.stop_reason!r}")
    stored = server.submissions()
    print(f"  state.db submissions: {stored}")
    rows = server.query("SELECT round, status, failure_reason, epsilon FROM rounds ORDER BY round")
    ledger = json.loads(server.query("SELECT json FROM ledger")[0][0])
    for row in rows:
        print(f"  rounds table: {row}")
    released = [r["round"] for r in ledger["releases"]]
    print(f"  ledger releases: rounds {released}, noise shares {[r['noise_shares'] for r in ledger['releases']]}")
    check(rows[0][1] == "failed" and 0 not in released and not any(r == 0 for r, _, _, _ in stored),
          f"{label}: round 0 was not failed uncharged: {rows}, {released}")
    check(rows[1][1] == "aggregated" and released == [1], f"{label}: round 1 {rows[1]}, releases {released}")


def noise_floor(confide: list[str], folder: str) -> None:
    label = "noise-floor"
    initial = initial_model(folder, {"dense.weight": [4, 8], "dense.bias": [6]})
    with Server(confide, folder, ["--secure-agg", "--dp-mode", "distributed", "--rounds", "1", "--clients-per-round", "4",
                                  "--min-updates", "3", "--dp-min-survivors", "3", "--deadline", "30", "--stage-deadline",
                                  "6", "--initial-model", initial, "--dp-noise", "0.5", "--dp-clip", "1",
                                  "--dp-client-clip", "--epsilon", "1000", "--population", "4"], tokens=4) as server:
        names = ["py0", "py1", "py2", "py3"]
        run = Run()
        threads = [threading.Thread(target=participant, args=(new_client(server, server.tokens[i], n), n, run, 0.25,
                                                              None, 5.0 if n == "py3" else None))
                   for i, n in enumerate(names)]
        run_all(threads, run.errors, label)
        r0 = {n: run.outcomes.get((0, n), "") for n in names}
        print(f"  round 0 outcomes: {r0}")
        check(r0["py3"].startswith("refused") and "floor" in r0["py3"], f"{label}: py3 {r0['py3']}")
        check(all(r0[n].startswith("completed") for n in names[:3]), f"{label}: {r0}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--confide", required=True, help="how to run confide, e.g. \"dotnet out/confide.dll\"")
    parser.add_argument("--only", default="1,2,3,4,5")
    parser.add_argument("--keep", help="keep the servers' folders under this path")
    args = parser.parse_args()
    confide = shlex.split(args.confide)
    only = set(args.only.split(","))
    with tempfile.TemporaryDirectory(prefix="ddp-check-") as scratch:
        root = args.keep or scratch
        if "1" in only:
            print("1. distributed DP: four Python clients, three rounds, the noise's spread")
            noise_spread(confide, os.path.join(root, "d1"))
        if "2" in only:
            print("2. distributed DP, mixed: three Python clients and one .NET client")
            mixed(confide, os.path.join(root, "d2"))
        if "3" in only:
            print("3. adaptive clipping under SecAgg: the clip indicator in the secure sum")
            adaptive(confide, os.path.join(root, "d3a"), 0.01, True)
            adaptive(confide, os.path.join(root, "d3b"), 0.5, False)
        if "4" in only:
            print("4. distributed DP, n_min = 4 of 4, one client vanishes in round 0")
            min_survivors(confide, os.path.join(root, "d4"))
        if "5" in only:
            print("5. a client's own noise floor above the round's z")
            noise_floor(confide, os.path.join(root, "d5"))
    print("distributed-DP check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
