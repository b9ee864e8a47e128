"""A minimal Confide federation client in Python, written from protos/confide.proto alone.

It shows that a client in another language can join a Confide server: it pins the server certificate, enrolls with a
one-time token and an Ed25519 key, signs every request as the proto header specifies, streams the global model down and
a signed update up, reports its evaluation, and retries transient errors without ever resubmitting a round. Secure
rounds go through secagg_client.py (SecAgg+, with central or distributed DP and the adaptive-clipping indicator). The
.NET client (`confide client`, `Confide.Client`) is the full reference client.

Needs grpcio, protobuf and cryptography (Debian: python3-grpcio python3-protobuf python3-cryptography), and the message
classes generated from the contract:

    protoc -I protos --python_out=OUT protos/confide.proto      # then put OUT on PYTHONPATH

Only the message classes are generated; the calls go through grpcio's generic channel methods, so grpcio-tools (the
Python gRPC plugin) is not needed.
"""

from __future__ import annotations

import argparse
import array
import gzip
import hashlib
import hmac
import json
import math
import os
import random
import secrets
import socket
import ssl
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import grpc
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import confide_pb2 as pb

SERVICE = "/confide.v1.Federation/"
REQUEST_LABEL = "confide.v1/request"
ENROLL_LABEL = "confide.v1/enroll"
UPLOAD_CHUNK = 64 * 1024
# Transient failures: retried with backoff and a fresh signature (a new nonce and timestamp).
TRANSIENT = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.RESOURCE_EXHAUSTED}


# ---------------------------------------------------------------------------------------------------------------------
# Signing (protos/confide.proto, header comment)
# ---------------------------------------------------------------------------------------------------------------------

def request_canonical_bytes(method: str, client_id: str, timestamp_ms: int, nonce_hex: str, body_sha256_hex: str) -> bytes:
    """The bytes a request signature covers: the label, then method, client id, timestamp, nonce and body hash."""
    for name, value in (("method", method), ("client id", client_id)):
        if "\n" in value:
            raise ValueError(f"the {name} must not contain a newline")
    return f"{REQUEST_LABEL}\n{method}\n{client_id}\n{timestamp_ms}\n{nonce_hex}\n{body_sha256_hex}".encode("utf-8")


def enrollment_proof_bytes(token: str, public_key: bytes) -> bytes:
    """The bytes an enrolling client signs to prove it holds the private key."""
    if "\n" in token:
        raise ValueError("the token must not contain a newline")
    return f"{ENROLL_LABEL}\n{token}\n{public_key.hex()}".encode("utf-8")


def public_key_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


# ---------------------------------------------------------------------------------------------------------------------
# safetensors (F32 only, which is what Confide writes)
# ---------------------------------------------------------------------------------------------------------------------

@dataclass
class Model:
    """A model as safetensors: the header bytes as received (reused for the update, so the layout matches exactly)
    and every tensor's values, in the order of their data offsets."""

    header: bytes
    names: list[str]
    shapes: list[list[int]]
    values: list[array.array]

    def flat(self) -> list[float]:
        return [v for t in self.values for v in t]


def read_safetensors(data: bytes) -> Model:
    """Parses safetensors bytes, refusing anything but little-endian F32 tensors that tile the data exactly."""
    if len(data) < 8:
        raise ValueError("safetensors data shorter than its 8-byte header length")
    n = int.from_bytes(data[:8], "little")
    if n > len(data) - 8:
        raise ValueError(f"safetensors header length {n} runs past the {len(data)} bytes received")
    header = json.loads(data[8:8 + n].decode("utf-8"))
    body = memoryview(data)[8 + n:]
    entries = sorted(((k, v) for k, v in header.items() if k != "__metadata__"), key=lambda kv: kv[1]["data_offsets"][0])
    names, shapes, values, expected = [], [], [], 0
    for name, spec in entries:
        begin, end = spec["data_offsets"]
        count = math.prod(spec["shape"])
        if spec["dtype"] != "F32" or begin != expected or end - begin != 4 * count or end > len(body):
            raise ValueError(f"tensor '{name}' is not a contiguous F32 tensor of shape {spec['shape']}")
        values.append(_floats(body[begin:end]))
        names.append(name)
        shapes.append(list(spec["shape"]))
        expected = end
    if expected != len(body):
        raise ValueError(f"safetensors data holds {len(body) - expected} bytes beyond its last tensor")
    return Model(bytes(data[:8 + n]), names, shapes, values)


def write_safetensors(like: Model, values: Sequence[array.array]) -> bytes:
    """Encodes `values` with the header of `like` (the global model's layout)."""
    parts = [like.header]
    for old, new in zip(like.values, values, strict=True):
        if len(old) != len(new):
            raise ValueError("a tensor's length differs from the global model's")
        parts.append(f32_bytes(new))
    return b"".join(parts)


def f32_bytes(values: Sequence[float]) -> bytes:
    """Little-endian float32 bytes, as safetensors stores them."""
    a = array.array("f", values)
    if sys.byteorder != "little":
        a.byteswap()
    return a.tobytes()


def _floats(raw: memoryview) -> array.array:
    a = array.array("f")
    a.frombytes(raw)
    if sys.byteorder != "little":
        a.byteswap()
    return a


# ---------------------------------------------------------------------------------------------------------------------
# The client
# ---------------------------------------------------------------------------------------------------------------------

def pinned_channel(target: str, fingerprint: str, timeout: float = 10.0) -> grpc.Channel:
    """A TLS channel to `target` (host:port) that trusts only the certificate whose SHA-256 is `fingerprint`.

    The certificate is fetched once, its fingerprint compared in constant time, and then it becomes the channel's only
    trust root, so the gRPC handshake itself verifies the server holds that certificate's key. This suits the
    self-signed certificate a Confide server makes on first start; a certificate issued by a CA would need the CA as
    the root instead (not done here)."""
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--server must look like host:port; got '{target}'")
    want = bytes.fromhex(fingerprint)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # only to read the certificate; trust comes from the pin below
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout) as raw:
            with context.wrap_socket(raw, server_hostname=host.strip("[]")) as tls:
                der = tls.getpeercert(binary_form=True)
    except OSError as e:
        raise ConnectionError(f"cannot reach the server at {target} over TLS: {e}") from e
    if der is None or not hmac.compare_digest(hashlib.sha256(der).digest(), want):
        raise ConnectionError(f"the server at {target} presented a certificate that does not match the pinned fingerprint")
    credentials = grpc.ssl_channel_credentials(root_certificates=ssl.DER_cert_to_PEM_cert(der).encode("ascii"))
    return grpc.secure_channel(target, credentials)


class ConfideClient:
    """Signed calls to one Confide server. Every call but Enroll and GetStatus carries a fresh signature."""

    def __init__(self, channel: grpc.Channel, key: Ed25519PrivateKey, client_id: str | None = None,
                 clock: Callable[[], float] = time.time):
        self.channel, self.key, self.client_id, self.clock = channel, key, client_id, clock
        unary = lambda m, req, resp: channel.unary_unary(SERVICE + m, request_serializer=req.SerializeToString,
                                                         response_deserializer=resp.FromString)
        self._enroll = unary("Enroll", pb.EnrollRequest, pb.EnrollResponse)
        self._status = unary("GetStatus", pb.StatusRequest, pb.StatusResponse)
        self._task = unary("FetchTask", pb.FetchTaskRequest, pb.RoundTask)
        self._metrics = unary("ReportMetrics", pb.EvaluationReport, pb.ReportMetricsResponse)
        self._model = channel.unary_stream(SERVICE + "FetchModel", request_serializer=pb.FetchModelRequest.SerializeToString,
                                           response_deserializer=pb.ModelChunk.FromString)
        self._submit = channel.stream_unary(SERVICE + "SubmitUpdate", request_serializer=pb.UpdateMessage.SerializeToString,
                                            response_deserializer=pb.SubmitUpdateResponse.FromString)

    def enroll(self, token: str, label: str = "") -> str:
        public = public_key_bytes(self.key)
        proof = self.key.sign(enrollment_proof_bytes(token, public))
        self.client_id = self._enroll(pb.EnrollRequest(token=token, public_key=public, proof=proof, label=label), timeout=30).client_id
        return self.client_id

    def status(self) -> pb.StatusResponse:
        return self._status(pb.StatusRequest(), timeout=30)

    def signature_metadata(self, method: str, body_sha256: bytes, timestamp_ms: int | None = None) -> list[tuple[str, str]]:
        """The five metadata entries of a signed call (a fresh nonce each time)."""
        if self.client_id is None:
            raise RuntimeError("enroll first: the client has no id")
        timestamp = int(self.clock() * 1000) if timestamp_ms is None else timestamp_ms
        nonce = secrets.token_bytes(16).hex()
        signature = self.key.sign(request_canonical_bytes(SERVICE + method, self.client_id, timestamp, nonce, body_sha256.hex()))
        return [("confide-client-id", self.client_id), ("confide-timestamp", str(timestamp)), ("confide-nonce", nonce),
                ("confide-body-sha256", body_sha256.hex()), ("confide-signature", signature.hex())]

    def signed_unary(self, method: str, request, metadata: list[tuple[str, str]] | None = None, timeout: float = 30):
        """Calls a signed unary method; `metadata` overrides the signature (tests use it to replay or tamper)."""
        call = {"FetchTask": self._task, "ReportMetrics": self._metrics}[method]
        body = request.SerializeToString()
        return call(request, metadata=metadata or self.signature_metadata(method, hashlib.sha256(body).digest()), timeout=timeout)

    def fetch_task(self, last_round: int, wait_ms: int = 5000) -> pb.RoundTask:
        return self.signed_unary("FetchTask", pb.FetchTaskRequest(last_round=last_round, wait_ms=wait_ms), timeout=wait_ms / 1000 + 30)

    def fetch_model(self, round_: int, expected_bytes: int) -> bytes:
        """Streams the global model of `round_`, checking that the chunks tile exactly `expected_bytes`."""
        request = pb.FetchModelRequest(round=round_)
        metadata = self.signature_metadata("FetchModel", hashlib.sha256(request.SerializeToString()).digest())
        buffer = bytearray()
        for chunk in self._model(request, metadata=metadata, timeout=300):
            if chunk.total_bytes != expected_bytes or chunk.offset != len(buffer) or len(buffer) + len(chunk.data) > expected_bytes:
                raise ValueError(f"model chunk at offset {chunk.offset} (total {chunk.total_bytes}) does not follow the "
                                 f"{len(buffer)} of {expected_bytes} bytes received so far")
            buffer += chunk.data
        if len(buffer) != expected_bytes:
            raise ValueError(f"the model stream ended after {len(buffer)} of {expected_bytes} bytes")
        return bytes(buffer)

    def submit_update(self, header: pb.UpdateHeader, payload: bytes, metadata: list[tuple[str, str]] | None = None) -> pb.SubmitUpdateResponse:
        """Signs SHA-256(serialised header ‖ payload) and streams the header, then the payload in chunks."""
        digest = hashlib.sha256(header.SerializeToString() + payload).digest()

        def messages() -> Iterator[pb.UpdateMessage]:
            yield pb.UpdateMessage(header=header)
            for offset in range(0, len(payload), UPLOAD_CHUNK):
                yield pb.UpdateMessage(chunk=pb.UpdateChunk(data=payload[offset:offset + UPLOAD_CHUNK]))

        return self._submit(messages(), metadata=metadata or self.signature_metadata("SubmitUpdate", digest), timeout=300)

    def report_metrics(self, round_: int, samples: int, loss: float, accuracy: float) -> None:
        self.signed_unary("ReportMetrics", pb.EvaluationReport(round=round_, samples=samples, loss=loss, accuracy=accuracy))


# A trainer takes (round, global model, task) and returns (delta per tensor, sample count, training loss).
Trainer = Callable[[int, Model, pb.RoundTask], tuple[list[array.array], int, float]]


def with_retries(action: Callable[[], object], what: str, attempts: int = 6, log: Callable[[str], None] = print):
    """Runs `action`, retrying transient gRPC failures with exponential backoff and jitter."""
    for attempt in range(attempts):
        try:
            return action()
        except grpc.RpcError as e:
            if e.code() not in TRANSIENT or attempt == attempts - 1:
                raise
            delay = min(10.0, 0.5 * 2 ** attempt) * (0.5 + random.random() / 2)
            log(f"{what}: {e.code().name} ({e.details()}); retrying in {delay:.1f} s")
            time.sleep(delay)
    raise AssertionError("unreachable")


def clip(delta: list[array.array], bound: float) -> tuple[list[array.array], int]:
    """Scales `delta` to L2 norm at most `bound` (DP-FedAvg client clipping); returns it and the clip indicator."""
    norm = math.sqrt(sum(v * v for t in delta for v in t))
    if norm <= bound:
        return delta, 1
    scale = bound / norm
    return [array.array("f", (v * scale for v in t)) for t in delta], 0


class Progress:
    """The client id and the last round submitted, saved atomically so a restart never resubmits a round."""

    def __init__(self, path: str):
        self.path = path
        self.client_id: str | None = None
        self.last_round = -1
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                saved = json.load(f)
            self.client_id, self.last_round = saved["client_id"], int(saved["last_round"])

    def save(self) -> None:
        folder = os.path.dirname(os.path.abspath(self.path))
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".progress-")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"client_id": self.client_id, "last_round": self.last_round}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def load_or_create_key(path: str) -> Ed25519PrivateKey:
    """Loads the identity key, or creates it in a new file readable only by its owner (mode 0600)."""
    if os.path.exists(path):
        with open(path, "rb") as f:
            key = serialization.load_pem_private_key(f.read(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} does not hold an Ed25519 private key")
        return key
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
        f.flush()
        os.fsync(f.fileno())
    return key


def participate(client: ConfideClient, progress: Progress, trainer: Trainer,
                evaluate: Callable[[int, Model], tuple[int, float, float]] | None = None,
                on_model: Callable[[int, Model], None] | None = None, log: Callable[[str], None] = print,
                encode: Callable[[Model, Sequence[array.array]], bytes] = write_safetensors,
                min_noise_multiplier: float | None = None) -> str:
    """Takes part in rounds until the server says the run finished; returns its stop reason. `encode` writes the
    update as safetensors (by default with the global model's header; any safetensors writer will do, since the
    server accepts the tensors in any order). `min_noise_multiplier` is this client's floor on distributed DP in
    secure rounds (see secagg_client.run_secure_round); None accepts the server's setting."""
    while True:
        task = with_retries(lambda: client.fetch_task(progress.last_round), "FetchTask", log=log)
        if task.kind == pb.RoundTask.FINISHED:
            return task.stop_reason
        if task.kind != pb.RoundTask.TRAIN or task.round <= progress.last_round:
            time.sleep(max(task.retry_after_ms, 100) / 1000)
            continue
        model = read_safetensors(with_retries(lambda: client.fetch_model(task.round, task.model_bytes), "FetchModel", log=log))
        if on_model is not None:
            on_model(task.round, model)
        delta, samples, loss = trainer(task.round, model, task)
        if not 1 <= samples <= task.max_sample_count:
            raise ValueError(f"the trainer reported {samples} samples; the server accepts 1 to {task.max_sample_count}")
        if task.HasField("secure_aggregation"):
            # The update goes into the secure sum instead of SubmitUpdate (secagg_client.py), flattened in the model's
            # data-offset order, which is the server's layout order. A secure round cannot be rejoined, whatever its
            # outcome, so it counts as submitted either way.
            import secagg_client
            result = secagg_client.run_secure_round(client, task, [v for t in delta for v in t], samples,
                                                    min_noise_multiplier=min_noise_multiplier)
            log(f"round {task.round}: secure aggregation {result.outcome} ({result.detail})")
        else:
            submit_plain(client, task, model, delta, samples, loss, encode, log)
        progress.last_round = task.round
        progress.save()
        if evaluate is not None:
            n, eval_loss, accuracy = evaluate(task.round, model)
            with_retries(lambda: client.report_metrics(task.round, n, eval_loss, accuracy), "ReportMetrics", log=log)


def submit_plain(client: ConfideClient, task: pb.RoundTask, model: Model, delta: list[array.array], samples: int,
                 loss: float, encode: Callable[[Model, Sequence[array.array]], bytes], log: Callable[[str], None]) -> None:
    """Clips when the task asks, encodes and submits one update; a refusal is logged (the round goes on without it)."""
    header = pb.UpdateHeader(round=task.round, sample_count=samples, layout_fingerprint=task.layout_fingerprint, train_loss=loss)
    if task.clip_norm > 0:
        delta, indicator = clip(delta, task.clip_norm)
        header.clip_indicator = indicator
    payload = encode(model, delta)
    header.total_bytes = len(payload)
    try:
        with_retries(lambda: client.submit_update(header, payload), "SubmitUpdate", log=log)
        log(f"round {task.round}: update accepted ({samples} samples, loss {loss:.4f})")
    except grpc.RpcError as e:
        if e.code() != grpc.StatusCode.ALREADY_EXISTS:  # a retry after an answer that was lost: already in
            log(f"round {task.round}: update refused: {e.code().name}: {e.details()}")


# ---------------------------------------------------------------------------------------------------------------------
# A real trainer: softmax regression on the digits data set (the task of the server's default initial model)
# ---------------------------------------------------------------------------------------------------------------------

def load_digits(path: str, shard: int, shards: int, seed: int) -> list[tuple[list[float], int]]:
    """Rows of 64 pixel counts in 0..16 and a label, scaled to [0, 1]; this client's IID shard of a seeded shuffle."""
    rows = []
    with gzip.open(path, "rt", encoding="ascii") as f:
        for line_number, line in enumerate(f, 1):
            fields = line.strip().split(",")
            if len(fields) != 65:
                raise ValueError(f"{path}, line {line_number}: {len(fields)} fields, expected 65")
            rows.append(([int(v) / 16 for v in fields[:64]], int(fields[64])))
    random.Random(seed).shuffle(rows)
    return rows[shard::shards]


def softmax_logits(w: array.array, b: array.array, x: list[float], classes: int) -> list[float]:
    inputs = len(x)
    return [b[c] + sum(w[c * inputs + j] * x[j] for j in range(inputs)) for c in range(classes)]


def softmax(z: list[float]) -> list[float]:
    top = max(z)
    e = [math.exp(v - top) for v in z]
    s = sum(e)
    return [v / s for v in e]


def digits_trainer(rows: list[tuple[list[float], int]], seed: int) -> Trainer:
    """Minibatch SGD of cross-entropy on `linear.weight` [classes, 64] and `linear.bias` [classes], as the task asks."""
    rng = random.Random(seed)

    def train(round_: int, model: Model, task: pb.RoundTask) -> tuple[list[array.array], int, float]:
        names = dict(zip(model.names, model.values))
        w, b = array.array("f", names["linear.weight"]), array.array("f", names["linear.bias"])
        classes = len(b)
        lr, batch = task.training.learning_rate, max(1, task.training.batch_size)
        order = list(range(len(rows)))
        total_loss = 0.0
        for _ in range(max(1, task.training.epochs)):
            rng.shuffle(order)
            total_loss = 0.0
            for start in range(0, len(order), batch):
                gw, gb = [0.0] * len(w), [0.0] * classes
                members = order[start:start + batch]
                for i in members:
                    x, y = rows[i]
                    p = softmax(softmax_logits(w, b, x, classes))
                    total_loss -= math.log(max(p[y], 1e-12))
                    for c in range(classes):
                        g = p[c] - (1.0 if c == y else 0.0)
                        gb[c] += g
                        base = c * len(x)
                        for j, xj in enumerate(x):
                            gw[base + j] += g * xj
                step = lr / len(members)
                for k in range(len(w)):
                    w[k] -= step * gw[k]
                for c in range(classes):
                    b[c] -= step * gb[c]
        delta = []
        for name, old in zip(model.names, model.values):
            new = w if name == "linear.weight" else b
            delta.append(array.array("f", (n - o for n, o in zip(new, old))))
        return delta, len(rows), total_loss / len(rows)

    return train


def digits_evaluate(rows: list[tuple[list[float], int]]) -> Callable[[int, Model], tuple[int, float, float]]:
    def evaluate(round_: int, model: Model) -> tuple[int, float, float]:
        names = dict(zip(model.names, model.values))
        w, b = names["linear.weight"], names["linear.bias"]
        loss, correct = 0.0, 0
        for x, y in rows:
            p = softmax(softmax_logits(w, b, x, len(b)))
            loss -= math.log(max(p[y], 1e-12))
            correct += max(range(len(p)), key=p.__getitem__) == y
        return len(rows), loss / len(rows), correct / len(rows)

    return evaluate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Take part in a Confide federation (plain rounds) as a Python client.")
    parser.add_argument("--server", required=True, help="host:port of the server")
    parser.add_argument("--fingerprint", required=True, help="the server certificate's SHA-256, as the server printed it")
    parser.add_argument("--key", required=True, help="identity key file (PEM; created with mode 0600 if absent)")
    parser.add_argument("--progress", help="progress file (default: KEY.progress)")
    parser.add_argument("--token", help="one-time enrollment token (first run only)")
    parser.add_argument("--data", required=True, help="digits CSV (gzip), e.g. src/Confide.Training/Data/digits.csv.gz")
    parser.add_argument("--shard", default="0/1", help="this client's IID shard of the data, as i/n")
    parser.add_argument("--data-seed", type=int, default=1, help="seed of the shard split (the same on every client)")
    parser.add_argument("--dp-min-noise", type=float, help="distributed DP floor z = √n_min·σ/Δ₂: sit out secure rounds "
                        "with less client noise, or none (as `confide client --dp-min-noise`)")
    args = parser.parse_args(argv)

    try:
        shard, shards = (int(v) for v in args.shard.split("/"))
        if not 0 <= shard < shards:
            raise ValueError
    except ValueError:
        parser.error(f"--shard must look like i/n with 0 ≤ i < n; got '{args.shard}'")
    if len(args.fingerprint) != 64 or any(c not in "0123456789abcdefABCDEF" for c in args.fingerprint):
        parser.error("--fingerprint must be 64 hex digits (SHA-256)")
    if args.dp_min_noise is not None and not (args.dp_min_noise > 0 and math.isfinite(args.dp_min_noise)):
        parser.error("--dp-min-noise must be a finite positive noise multiplier")

    progress = Progress(args.progress or args.key + ".progress")
    client = ConfideClient(pinned_channel(args.server, args.fingerprint), load_or_create_key(args.key), progress.client_id)
    if client.client_id is None:
        if not args.token:
            parser.error("this key is not enrolled yet: pass --token")
        progress.client_id = client.enroll(args.token, label="python")
        progress.save()
        print(f"enrolled as {progress.client_id}")
    rows = load_digits(args.data, shard, shards, args.data_seed)
    reason = participate(client, progress, digits_trainer(rows, args.data_seed + shard), digits_evaluate(rows),
                         min_noise_multiplier=args.dp_min_noise)
    print(f"the run finished: {reason}")
    return 0


def run(argv: list[str] | None = None) -> int:
    """main, with failures reported as one line instead of a traceback."""
    try:
        return main(argv)
    except grpc.RpcError as e:
        print(f"confide_client: the server refused: {e.code().name}: {e.details()}", file=sys.stderr)
    except (ValueError, ConnectionError, OSError, NotImplementedError) as e:
        print(f"confide_client: {e}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(run())
