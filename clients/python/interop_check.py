"""Checks that the Python client, written from protos/confide.proto alone, interoperates with a real Confide server.

Run by .ci/interop-python. It starts `confide server` processes on 127.0.0.1 (TLS, generated certificate) and checks:

1. The request-signature test vector of docs/deployment.md (Ed25519 here is the `cryptography` package, not NSec).
2. Refusals a foreign client gets, each with its gRPC status and reason: a replayed nonce, a tampered signature, a
   stale timestamp, an unknown client id, a reused enrollment token, and updates with NaN values, the wrong layout
   fingerprint or a sample count out of range.
3. Exact arithmetic on a 1,049,600-parameter model (4.2 MB, so it moves only in chunks): two Python clients send
   known updates with known sample counts for three FedAvg rounds, and each round's global model must equal the last
   one plus the weighted mean of the two, to the last bit. One of them writes its own safetensors header, with the
   tensors in another order.
4. A mixed federation: a Python client training softmax regression on the digits data beside a .NET `confide client`;
   the run must finish with every update accepted and the global model must learn (accuracy on all 1797 digits).

Usage: interop_check.py --confide "dotnet path/confide.dll" --data src/Confide.Training/Data/digits.csv.gz
Exits non-zero, naming the failed check, when anything differs.
"""

from __future__ import annotations

import argparse
import array
import contextlib
import hashlib
import json
import math
import os
import random
import re
import shlex
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time
from typing import Iterator

import grpc
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import confide_client as cc
import confide_pb2 as pb

# The vector published in docs/deployment.md ("Clients in other languages") and asserted by the .NET tests.
VECTOR_SEED = bytes(range(32))
VECTOR_PUBLIC = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"
VECTOR_BODY = "08ffffffffffffffffff01108827"
VECTOR_SIGNATURE = ("968e72e11ac6d45c178b6d33f4e18ec5cc64d956587dc2515acc235d6731d6e1"
                    "f63fa0a6e521cba448fb949ced78627aad808ae24e1f3d30ff7ead5f2fb8fe0e")


def fail(message: str) -> None:
    raise SystemExit(f"interop check FAILED: {message}")


def check(condition: bool, message: str) -> None:
    if not condition:
        fail(message)


class Server:
    """A `confide server` process on 127.0.0.1 with a fresh state folder; parses its port and fingerprint."""

    def __init__(self, confide: list[str], folder: str, args: list[str], tokens: int):
        os.makedirs(folder, exist_ok=True)
        self.confide, self.state = confide, os.path.join(folder, "state")
        out = subprocess.run(confide + ["admin", "token", "--state", self.state, "--count", str(tokens)],
                             check=True, capture_output=True, text=True, timeout=120)
        self.tokens = out.stdout.split()
        check(len(self.tokens) == tokens, f"admin token printed {out.stdout!r}")
        self.log = open(os.path.join(folder, "server.log"), "w+", encoding="utf-8")
        self.process = subprocess.Popen(confide + ["server", "--state", self.state, "--port", "0", "--linger", "30"] + args,
                                        stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.port = self.fingerprint = None
        deadline = time.time() + 120
        while (self.port is None or self.fingerprint is None) and time.time() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            if m := re.search(r"listening on https://127\.0\.0\.1:(\d+)/", line):
                self.port = int(m.group(1))
            if m := re.search(r"fingerprint \(clients pin this\): ([0-9a-f]{64})", line):
                self.fingerprint = m.group(1)
        check(self.port is not None and self.fingerprint is not None, "the server did not print its port and fingerprint")
        threading.Thread(target=self.process.stdout.read, daemon=True).start()  # drain the rest

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()

    def query(self, sql: str) -> list[tuple]:
        """Rows of a read-only query of the server's state database (state.db), read after the server stopped."""
        with contextlib.closing(sqlite3.connect(f"file:{os.path.join(self.state, 'state.db')}?mode=ro", uri=True)) as db:
            return db.execute(sql).fetchall()

    def submissions(self) -> list[tuple[int, str, str, str | None]]:
        """The stored record of every submission (round, client, status, reason)."""
        return self.query("SELECT round, client_id, status, reason FROM submissions ORDER BY round, client_id")

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, kind, value, traceback) -> None:
        """Stops the server; when the block failed, prints the end of the server's log first."""
        if kind is not None:
            print(self.server_log(), file=sys.stderr)
        self.stop()

    def server_log(self) -> str:
        with open(self.log.name, encoding="utf-8") as f:
            return f.read()[-3000:]


@contextlib.contextmanager
def dotnet_client(confide: list[str], server: Server, folder: str, token: str, shard: str) -> Iterator[subprocess.Popen]:
    """A .NET `confide client` in the federation of `server` (output in FOLDER/dotnet-client.log); when the block
    fails, the end of its log is printed, and it is killed on leaving if still running."""
    path = os.path.join(folder, "dotnet-client.log")
    with open(path, "w", encoding="utf-8") as log:
        process = subprocess.Popen(confide + ["client", "--server", f"https://{server.target}", "--fingerprint", server.fingerprint,
                                              "--key", os.path.join(folder, "dotnet.key"), "--token", token, "--shard", shard],
                                   stdout=log, stderr=subprocess.STDOUT)
        try:
            yield process
        except BaseException:
            with open(path, encoding="utf-8", errors="replace") as f:
                print("".join(f.readlines()[-30:]), file=sys.stderr)
            raise
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def run_all(threads: list[threading.Thread], errors: list[str], label: str, timeout: float = 300) -> None:
    """Starts the client threads, waits for them (each within `timeout`), and fails on any error they recorded."""
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    check(not any(t.is_alive() for t in threads), f"{label}: a client was still running after {timeout:g} s")
    check(not errors, f"{label}: " + "; ".join(errors))


def next_train_task(client: cc.ConfideClient, last: int, secure: bool | None = None) -> pb.RoundTask | None:
    """Long-polls until a TRAIN task for a round after `last` (with a SecAgg setup when `secure`), or None once the
    run has finished."""
    while True:
        task = client.fetch_task(last, 5000)
        if task.kind == pb.RoundTask.FINISHED:
            return None
        if task.kind == pb.RoundTask.TRAIN and task.round > last and (secure is None or task.HasField("secure_aggregation") == secure):
            return task
        time.sleep(max(task.retry_after_ms, 50) / 1000)


def new_client(server: Server, token: str, label: str) -> cc.ConfideClient:
    client = cc.ConfideClient(cc.pinned_channel(server.target, server.fingerprint), Ed25519PrivateKey.generate())
    client.enroll(token, label)
    return client


def expect_refusal(action, code: grpc.StatusCode, reason: str, what: str) -> None:
    try:
        action()
    except grpc.RpcError as e:
        check(e.code() == code, f"{what}: expected {code.name}, got {e.code().name}: {e.details()}")
        check(reason in (e.details() or "").lower(), f"{what}: the reason {e.details()!r} does not mention '{reason}'")
        print(f"  refused as expected: {what}: {e.code().name}: {e.details()}")
        return
    fail(f"{what}: the server accepted it")


def check_vector() -> None:
    key = Ed25519PrivateKey.from_private_bytes(VECTOR_SEED)
    check(cc.public_key_bytes(key).hex() == VECTOR_PUBLIC, "the vector's public key differs")
    body = pb.FetchTaskRequest(last_round=-1, wait_ms=5000).SerializeToString()
    check(body.hex() == VECTOR_BODY, f"FetchTaskRequest serialised as {body.hex()}")
    canonical = cc.request_canonical_bytes("/confide.v1.Federation/FetchTask", "c-0123456789abcdef", 1767225600000,
                                           bytes(range(16)).hex(), hashlib.sha256(body).hexdigest())
    check(key.sign(canonical).hex() == VECTOR_SIGNATURE, "the vector's signature differs")
    print("  the body, canonical bytes and Ed25519 signature match")


def known_value(step: float, round_: int, i: int) -> float:
    """Coordinate i of the update an honest client of the arithmetic check sends: small dyadic values, so every
    weighted mean is exact in float64, different in every round."""
    return step * ((i % 7) - 3) * (round_ + 1)


def split_like(model: cc.Model, flat: list[float]) -> list[array.array]:
    out, offset = [], 0
    for t in model.values:
        out.append(array.array("f", flat[offset:offset + len(t)]))
        offset += len(t)
    return out


def initial_model(folder: str, shapes: dict[str, list[int]]) -> str:
    """Writes FOLDER/initial.safetensors, a model of seeded values in [-1, 1) written the way any safetensors library
    would, making the folder, and returns its path."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "initial.safetensors")
    rng = random.Random(3)
    header, offset, data = {}, 0, []
    for name, shape in shapes.items():
        count = math.prod(shape)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + 4 * count]}
        data.append(cc.f32_bytes([rng.random() * 2 - 1 for _ in range(count)]))
        offset += 4 * count
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little") + text + b"".join(data))
    return path


def write_reordered(like: cc.Model, values) -> bytes:
    """Safetensors as a library writing its own header would: tensors in name order (not the server's data order),
    with __metadata__ and no padding."""
    order = sorted(range(len(like.names)), key=lambda i: like.names[i])
    header, offset = {"__metadata__": {"writer": "interop_check"}}, 0
    for i in order:
        header[like.names[i]] = {"dtype": "F32", "shape": like.shapes[i], "data_offsets": [offset, offset + 4 * len(values[i])]}
        offset += 4 * len(values[i])
    text = json.dumps(header).encode("utf-8")
    return len(text).to_bytes(8, "little") + text + b"".join(cc.f32_bytes(values[i]) for i in order)


def f32(x: float) -> float:
    return struct.unpack("f", struct.pack("f", x))[0]


def arithmetic_and_refusals(confide: list[str], folder: str) -> None:
    """Three FedAvg rounds of two honest Python clients with known updates, and a third that sends bad ones."""
    # A model of 1,049,600 parameters (4.2 MB) is over gRPC's 4 MB message limit, so it only moves in many chunks.
    initial = initial_model(folder, {"dense.weight": [1024, 1024], "dense.bias": [1024]})
    with Server(confide, folder, ["--rounds", "3", "--clients-per-round", "3", "--min-updates", "2", "--deadline", "60",
                                  "--initial-model", initial], tokens=4) as server:
        a = new_client(server, server.tokens[0], "python-a")
        b = new_client(server, server.tokens[1], "python-b")
        m = new_client(server, server.tokens[2], "python-m")

        expect_refusal(lambda: new_client(server, server.tokens[0], "again"), grpc.StatusCode.PERMISSION_DENIED, "already been used", "a reused enrollment token")
        body = pb.FetchTaskRequest(last_round=-1).SerializeToString()
        replay = a.signature_metadata("FetchTask", hashlib.sha256(body).digest())
        a.signed_unary("FetchTask", pb.FetchTaskRequest(last_round=-1), metadata=replay)
        expect_refusal(lambda: a.signed_unary("FetchTask", pb.FetchTaskRequest(last_round=-1), metadata=replay),
                       grpc.StatusCode.UNAUTHENTICATED, "nonce", "a replayed nonce")
        tampered = a.signature_metadata("FetchTask", hashlib.sha256(body).digest())
        tampered[4] = (tampered[4][0], ("0" if tampered[4][1][0] != "0" else "1") + tampered[4][1][1:])
        expect_refusal(lambda: a.signed_unary("FetchTask", pb.FetchTaskRequest(last_round=-1), metadata=tampered),
                       grpc.StatusCode.UNAUTHENTICATED, "signature", "a tampered signature")
        stale = a.signature_metadata("FetchTask", hashlib.sha256(body).digest(), timestamp_ms=int((time.time() - 3600) * 1000))
        expect_refusal(lambda: a.signed_unary("FetchTask", pb.FetchTaskRequest(last_round=-1), metadata=stale),
                       grpc.StatusCode.UNAUTHENTICATED, "timestamp", "a stale timestamp")
        stranger = cc.ConfideClient(a.channel, Ed25519PrivateKey.generate(), "c-00000000deadbeef")
        expect_refusal(lambda: stranger.fetch_task(-1, 0), grpc.StatusCode.UNAUTHENTICATED, "unknown", "an unknown client id")

        honest = {"a": (a, 3, 2.0 ** -10), "b": (b, 5, -(2.0 ** -9))}
        models: dict[int, list[float]] = {}
        errors: list[str] = []

        def run_honest(name: str) -> None:
            client, samples, step = honest[name]

            def trainer(round_, model, task):
                # Dyadic steps, so the weighted mean is exact and the server's result can be predicted to the bit.
                flat = [known_value(step, round_, i) for i in range(sum(len(t) for t in model.values))]
                return split_like(model, flat), samples, 0.0

            def on_model(round_, model):
                flat = model.flat()
                if models.setdefault(round_, flat) != flat:
                    errors.append(f"clients a and b got different models for round {round_}")

            try:
                # b writes its own header, tensors in another order: the server must accept any valid safetensors.
                cc.participate(client, cc.Progress(os.path.join(folder, name + ".progress")), trainer, on_model=on_model,
                               log=lambda s: None, encode=write_reordered if name == "b" else cc.write_safetensors)
            except Exception as e:  # surfaced below
                errors.append(f"client {name}: {e!r}")

        def run_mallory() -> None:
            last = -1
            bad = {0: "nan", 1: "layout", 2: "samples"}
            while last < 2:
                task = next_train_task(m, last)
                if task is None:
                    errors.append("the run finished before mallory's three bad updates were refused")
                    return
                model = cc.read_safetensors(m.fetch_model(task.round, task.model_bytes))
                delta = [array.array("f", [0.0] * len(t)) for t in model.values]
                header = pb.UpdateHeader(round=task.round, sample_count=1, layout_fingerprint=task.layout_fingerprint)
                kind = bad[task.round]
                if kind == "nan":
                    delta[0][0] = math.nan
                    code, reason = grpc.StatusCode.INVALID_ARGUMENT, "finite"
                elif kind == "layout":
                    header.layout_fingerprint = "0" * 64
                    code, reason = grpc.StatusCode.INVALID_ARGUMENT, "layout"
                else:
                    header.sample_count = task.max_sample_count + 1
                    code, reason = grpc.StatusCode.INVALID_ARGUMENT, "sample"
                payload = cc.write_safetensors(model, delta)
                header.total_bytes = len(payload)
                try:
                    expect_refusal(lambda: m.submit_update(header, payload), code, reason, f"an update with {kind} in round {task.round}")
                except SystemExit as e:
                    errors.append(str(e))
                    return
                last = task.round

        threads = [threading.Thread(target=run_honest, args=(n,)) for n in honest] + [threading.Thread(target=run_mallory)]
        run_all(threads, errors, "arithmetic and refusals", timeout=240)
        check(sorted(models) == [0, 1, 2], f"the clients saw the models of rounds {sorted(models)}")
        with open(initial, "rb") as f:
            check(models[0] == cc.read_safetensors(f.read()).flat(), "round 0's model is not the initial model the server was given")
        print(f"  the {len(models[0]):,}-parameter model (over gRPC's 4 MB message limit) went down and up in chunks")

        # FedAvg with η = 1: w_{r+1} = w_r + (3·d_a + 5·d_b) / 8, computed exactly in float64 and rounded once to float32.
        for r in (0, 1):
            worst = 0.0
            for i, (before, after) in enumerate(zip(models[r], models[r + 1])):
                mean = sum(n * known_value(step, r, i) for _, n, step in honest.values()) / 8
                expected = f32(before + mean)
                worst = max(worst, abs(after - expected))
            check(worst == 0.0, f"round {r + 1}'s model differs from w_{r} + the weighted mean by up to {worst}")
        print("  rounds 1 and 2: the global model equals the previous one plus the weighted mean, bit for bit")

        status = a.status()
        check(status.stage == "finished" and status.stop_reason == "rounds-completed" and status.completed_rounds == 3,
              f"status after the run: {status}")

    # The durable record: every honest update accepted, every bad one rejected with its reason.
    stored = server.submissions()
    accepted = {(r, c) for r, c, status, _ in stored if status == "accepted"}
    rejected = {r: reason for r, c, status, reason in stored if status == "rejected" and c == m.client_id}
    check(accepted == {(r, c.client_id) for r in range(3) for c in (a, b)}, f"stored acceptances: {sorted(accepted)}")
    check(len(stored) == 9 and all(word in rejected.get(r, "") for r, word in ((0, "finite"), (1, "layout"), (2, "sample count"))),
          f"stored submissions: {stored}")
    print("  the state folder records the six accepted updates and the three rejections with their reasons")


def mixed_federation(confide: list[str], folder: str, data: str) -> None:
    """One Python client and one .NET client train the digits task together for four rounds."""
    with Server(confide, folder, ["--rounds", "4", "--clients-per-round", "2", "--deadline", "120", "--lr", "0.3"], tokens=2) as server:
        rows = cc.load_digits(data, 0, 1, 1)
        evaluate = cc.digits_evaluate(rows)
        accuracies: dict[int, float] = {}
        python = new_client(server, server.tokens[0], "python")
        with dotnet_client(confide, server, folder, server.tokens[1], "0/2") as dotnet:
            shard = cc.load_digits(data, 1, 2, 1)
            reason = cc.participate(python, cc.Progress(os.path.join(folder, "python.progress")), cc.digits_trainer(shard, 7),
                                    cc.digits_evaluate(shard), on_model=lambda r, model: accuracies.__setitem__(r, evaluate(r, model)[2]))
            check(reason == "rounds-completed", f"the run stopped with '{reason}'")
            check(dotnet.wait(timeout=120) == 0, f"the .NET client exited with {dotnet.returncode}")
        check(sorted(accuracies) == [0, 1, 2, 3], f"the Python client trained in rounds {sorted(accuracies)}")
        print("  accuracy of the global model on all digits at the start of rounds 0 to 3: "
              + ", ".join(f"{accuracies[r]:.3f}" for r in (0, 1, 2, 3)))
        check(accuracies[3] >= 0.75 and accuracies[3] > accuracies[0] + 0.4, "the mixed federation did not learn")
        status = python.status()
        check(status.completed_rounds == 4 and status.enrolled_clients == 2, f"status after the run: {status}")

    stored = server.submissions()
    check(len(stored) == 8 and all(status == "accepted" for _, _, status, _ in stored), f"stored submissions: {stored}")
    print("  all eight updates (four rounds, both clients) were accepted")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--confide", required=True, help="how to run confide, e.g. \"dotnet out/confide.dll\"")
    parser.add_argument("--data", required=True, help="the digits CSV (gzip)")
    args = parser.parse_args()
    confide = shlex.split(args.confide)
    print("1. the request-signature vector")
    check_vector()
    with tempfile.TemporaryDirectory() as folder:
        print("2–3. refusals and exact FedAvg arithmetic (three Python clients)")
        arithmetic_and_refusals(confide, os.path.join(folder, "a"))
    with tempfile.TemporaryDirectory() as folder:
        print("4. a mixed federation (a Python client and a .NET client)")
        mixed_federation(confide, os.path.join(folder, "b"), args.data)
    print("interop check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
