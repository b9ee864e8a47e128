"""The client side of a Confide secure-aggregation round (SecAgg+), in Python.

Implements the protocol of Bonawitz et al., "Practical Secure Aggregation for Privacy-Preserving Machine Learning"
(CCS 2017, Figure 4, the variant secure against a malicious server: signed keys, a consistency round with a quorum of
survivor-list signatures), restricted to SecAgg+ neighbourhoods (Bell et al., "Secure Single-Server Aggregation with
(Poly)Logarithmic Overhead", CCS 2020), with the fixed-point encoding of Kairouz, Liu and Steinke (ICML 2021, section 4:
clip, scale, unbiased stochastic rounding into Z_{2^k}).

It interoperates byte for byte with Confide's .NET implementation (`src/Confide/SecureAggregation`,
`src/Confide.Protocol/SecureAggregation`, `src/Confide.Client/Internal/SecAggWireClient.cs`). The byte layouts marked
"[from C#: file]" below were missing from docs/secure-aggregation.md when this client was written and had to be read
from the C# sources; that document's "Byte layouts" section now states each of them.

Scope: rounds without distributed DP (dp_noise_variance = 0) and without the clip indicator. Weight = the sample count
(unit_weight false) or 1 with per-update L2 clipping (unit_weight true, central DP).

Every secret (X25519 keys, the self-mask seed b_u, Shamir coefficients, AES-GCM nonces, rounding draws) comes from the
operating system's CSPRNG (`secrets` / `os.urandom`). Secrets live in Python `bytes`/`int` objects, which cannot be
reliably zeroed; this client makes no attempt to.
"""

from __future__ import annotations

import hashlib
import math
import os
import secrets
import struct
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import grpc
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

import confide_pb2 as pb

# =====================================================================================================================
# Primitives (docs/secure-aggregation.md, "Primitives, their parameters and their limits")
# =====================================================================================================================

MASK_PRG_SALT = b"Confide/SecAgg/MaskPrg/salt/v1"
MASK_PRG_INFO = b"Confide/SecAgg/MaskPrg/AES-128-CTR/v1"
GRAPH_INFO = b"Confide/SecAgg/NeighbourGraph/v1"
PAIRWISE_LABEL = "Confide/SecAgg/pairwise-mask-seed/v1"
SHARE_KEY_LABEL = "Confide/SecAgg/share-key/v1"
SHARE_AD_LABEL = "Confide/SecAgg/share-ad/v1"
SIGNATURE_LABEL = b"Confide/SecAgg/signature/v1"
# [from C#: Confide.Protocol/SecureAggregation/Internal/SecAggBinding.cs] purposes and in-payload labels.
ADVERTISE_PURPOSE = "secagg-advertise-keys"
SURVIVORS_PURPOSE = "secagg-survivor-list"
ADVERTISE_PAYLOAD_LABEL = b"confide-secagg-v1/advertise-keys"
SURVIVORS_PAYLOAD_LABEL = b"confide-secagg-v1/survivor-list"

PRIME = (1 << 61) - 1  # Shamir field GF(2^61 - 1)
CHUNK_BYTES = 7
SEED_SIZE = 32
NONCE_SIZE = 12
TAG_SIZE = 16
U64 = (1 << 64) - 1

# A source of random bytes: os.urandom (the OS CSPRNG) in production; a fixed stream in known-answer tests.
RandomBytes = Callable[[int], bytes]


def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    """HKDF-SHA256 (RFC 5869), as the BCL's HKDF.DeriveKey."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


@dataclass(frozen=True)
class CryptoContext:
    """What share keys, associated data and pairwise seeds are bound to (`SecAggContext`).

    [from C#: Internal/SecAggCrypto.cs, `Context`] The context's session id is *not* the setup's session_id string but
    SHA-256 of its UTF-8 bytes (always 32 bytes); it is also the HKDF salt."""

    session_hash: bytes
    round: int

    @staticmethod
    def of(session_id: str, round_: int) -> "CryptoContext":
        return CryptoContext(hashlib.sha256(session_id.encode("utf-8")).digest(), round_)


def binding_encode(label: str, ctx: CryptoContext, ids: Sequence[int], *extras: bytes) -> bytes:
    """The unambiguous encoding of HKDF info and AEAD associated data.

    [from C#: Confide/SecureAggregation/Internal/Binding.cs] label (u8 length + ASCII) ‖ session hash (u8 length +
    bytes) ‖ round (u64 big-endian) ‖ each id (u32 big-endian) ‖ each extra (u8 length + bytes)."""
    out = bytearray()
    lab = label.encode("ascii")
    out += bytes([len(lab)]) + lab
    out += bytes([len(ctx.session_hash)]) + ctx.session_hash
    out += struct.pack(">q", ctx.round)
    for i in ids:
        out += struct.pack(">i", i)
    for e in extras:
        if len(e) > 255:
            raise ValueError("a bound field is at most 255 bytes")
        out += bytes([len(e)]) + e
    return bytes(out)


# ---------------------------------------------------------------------------------------------------------------------
# Mask PRG (Bonawitz et al. 2017, section 4: PRG(b_u), PRG(s_uv)); AES-128-CTR per NIST SP 800-38A
# ---------------------------------------------------------------------------------------------------------------------

def aes_ctr_keystream(key: bytes, length: int, info_counter: bytes = bytes(16)) -> bytes:
    """AES-CTR keystream with a 128-bit big-endian counter starting at `info_counter` (OpenSSL increments all 128 bits)."""
    enc = Cipher(algorithms.AES(key), modes.CTR(info_counter)).encryptor()
    return enc.update(bytes(length)) + enc.finalize()


def mask_prg_key(seed: bytes, info: bytes = MASK_PRG_INFO) -> bytes:
    """The AES-128 key of a 256-bit seed: HKDF-SHA256(seed, salt MaskPrg/salt/v1, info)."""
    if len(seed) != SEED_SIZE:
        raise ValueError(f"a mask seed is {SEED_SIZE} bytes, not {len(seed)}")
    return hkdf_sha256(seed, MASK_PRG_SALT, info, 16)


def mask_words(seed: bytes, count: int, modulus_bits: int) -> list[int]:
    """The first `count` mask words in Z_{2^k}: 32-bit little-endian words of the keystream when k ≤ 32, else 64-bit
    (the rule of `SecAggCrypto.UsesNarrowWords`, which docs/secure-aggregation.md states for "k ≤ 32"), low k bits kept."""
    width = 4 if modulus_bits <= 32 else 8
    stream = aes_ctr_keystream(mask_prg_key(seed), width * count)
    words = struct.unpack(f"<{count}{'I' if width == 4 else 'Q'}", stream)
    m = (1 << modulus_bits) - 1
    return [w & m for w in words]


def apply_mask(acc: list[int], seed: bytes, modulus_bits: int, sign: int) -> None:
    """acc += sign · PRG(seed) mod 2^k, in place."""
    m = (1 << modulus_bits) - 1
    words = mask_words(seed, len(acc), modulus_bits)
    if sign > 0:
        for i, w in enumerate(words):
            acc[i] = (acc[i] + w) & m
    else:
        for i, w in enumerate(words):
            acc[i] = (acc[i] - w) & m


class PrgRandomSource:
    """A deterministic source of little-endian 64-bit words from an AES-128-CTR stream (`PrgRandomSource`).

    [from C#: Internal/PrgRandomSource.cs, Randomness/IRandomSource.cs] `below(m)` is IRandomSource.NextUInt64Below:
    accept x ≤ 2^64 − 1 − ((2^64 − 1) mod m) − 1, return x mod m."""

    def __init__(self, key: bytes):
        self._key = key
        self._buffer = b""
        self._position = 0
        self._used = 0

    def next_u64(self) -> int:
        if self._used == len(self._buffer):
            enc = Cipher(algorithms.AES(self._key), modes.CTR((self._position // 16).to_bytes(16, "big"))).encryptor()
            self._buffer = enc.update(bytes(512)) + enc.finalize()
            self._position += 512
            self._used = 0
        value = int.from_bytes(self._buffer[self._used:self._used + 8], "little")
        self._used += 8
        return value

    def below(self, exclusive_max: int) -> int:
        limit = U64 - (U64 % exclusive_max) - 1
        while True:
            x = self.next_u64()
            if x <= limit:
                return x % exclusive_max


# ---------------------------------------------------------------------------------------------------------------------
# SecAgg+ neighbour graph (Bell et al. 2020): Harary graph H_{k,n} over a seeded Fisher–Yates ordering
# ---------------------------------------------------------------------------------------------------------------------

def neighbour_graph(n: int, k: int, seed: bytes) -> list[list[int]]:
    """Every client's ascending neighbour list. k = n − 1 is the complete graph of Bonawitz et al. (no seed used:
    [from C#: SecAggCrypto.NeighbourGraph]); otherwise the Harary graph over the order drawn from the seed."""
    if not 2 <= n or not 1 <= k <= n - 1:
        raise ValueError(f"no graph with n = {n}, k = {k}")
    if k == n - 1:
        return [[v for v in range(n) if v != u] for u in range(n)]
    if k % 2 == 1 and n % 2 == 1:
        raise ValueError("odd k needs even n")
    source = PrgRandomSource(mask_prg_key(seed, GRAPH_INFO))
    order = list(range(n))
    for i in range(n - 1, 0, -1):
        j = source.below(i + 1)
        order[i], order[j] = order[j], order[i]
    neighbours: list[list[int]] = [[] for _ in range(n)]
    for p in range(n):
        lst = []
        for d in range(1, k // 2 + 1):
            lst.append(order[(p + d) % n])
            lst.append(order[(p - d) % n])
        if k % 2 == 1:
            lst.append(order[(p + n // 2) % n])
        neighbours[order[p]] = sorted(lst)
    return neighbours


# ---------------------------------------------------------------------------------------------------------------------
# Shamir secret sharing over GF(2^61 − 1) (Shamir 1979), 7-byte little-endian chunks
# ---------------------------------------------------------------------------------------------------------------------

def shamir_split(secret: bytes, xs: Sequence[int], threshold: int, random_bytes: RandomBytes = os.urandom) -> list[bytes]:
    """One encoded share per x. Encoding [from C#: ShamirShare.cs]: x (u32 LE) ‖ secret length (u32 LE) ‖ one u64 LE
    value per chunk.

    Coefficients are uniform in [0, p), drawn as .NET's ShamirSecretSharing.Split draws them (so a fixed source gives
    the same shares): one read of 8·(t − 1)·chunks bytes, the coefficient of z^j in chunk c being word (j − 1)·chunks + c
    shifted right by 3; the one value ≥ p is redrawn from the next 8 bytes."""
    if not secret or threshold < 1 or len(xs) < threshold or len(set(xs)) != len(xs) or min(xs) < 1:
        raise ValueError("bad Shamir parameters")
    chunks = [int.from_bytes(secret[c:c + CHUNK_BYTES], "little") for c in range(0, len(secret), CHUNK_BYTES)]
    count = (threshold - 1) * len(chunks)
    words = [w >> 3 for w in struct.unpack(f"<{count}Q", random_bytes(8 * count))] if count else []
    for i, w in enumerate(words):
        while w >= PRIME:
            w = int.from_bytes(random_bytes(8), "little") >> 3
        words[i] = w
    polys = [[a] + [words[(j - 1) * len(chunks) + c] for j in range(1, threshold)] for c, a in enumerate(chunks)]
    out = []
    for x in xs:
        values = []
        for poly in polys:
            v = 0
            for a in reversed(poly):
                v = (v * x + a) % PRIME
            values.append(v)
        out.append(struct.pack("<II", x, len(secret)) + struct.pack(f"<{len(values)}Q", *values))
    return out


def shamir_reconstruct(shares: Sequence[bytes], threshold: int) -> bytes:
    """Interpolates at 0 from the `threshold` shares with the smallest x (for tests; no consistency check)."""
    parsed = []
    for s in shares:
        x, length = struct.unpack_from("<II", s)
        parsed.append((x, length, struct.unpack_from(f"<{(len(s) - 8) // 8}Q", s, 8)))
    parsed.sort()
    use = parsed[:threshold]
    length = use[0][1]
    out = bytearray()
    for c in range(len(use[0][2])):
        value = 0
        for i, (xi, _, vi) in enumerate(use):
            num, den = 1, 1
            for j, (xj, _, _) in enumerate(use):
                if i != j:
                    num = num * xj % PRIME
                    den = den * (xj - xi) % PRIME
            value = (value + vi[c] * num * pow(den, PRIME - 2, PRIME)) % PRIME
        size = min(CHUNK_BYTES, length - c * CHUNK_BYTES)
        out += value.to_bytes(size, "little")
    return bytes(out)


# ---------------------------------------------------------------------------------------------------------------------
# Keys, signatures, pairwise seeds and share encryption
# ---------------------------------------------------------------------------------------------------------------------

def raw_public(key: X25519PrivateKey | Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def raw_private(key: X25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())


def purpose_framed(purpose: str, message: bytes) -> bytes:
    """What an identity key signs for a purpose [from C#: IdentityPublicKey.SignedBytes]: u8 length ‖
    "Confide/SecAgg/signature/v1" ‖ u8 length ‖ purpose (UTF-8) ‖ message (no length prefix)."""
    p = purpose.encode("utf-8")
    return bytes([len(SIGNATURE_LABEL)]) + SIGNATURE_LABEL + bytes([len(p)]) + p + message


def signing_context(session_id: str, round_: int) -> bytes:
    """[from C#: SecAggBinding.Create] u32 LE length ‖ session id (UTF-8, the setup's string itself) ‖ round (i64 LE).
    Note: little-endian, unlike the big-endian `binding_encode`, and the raw session id, unlike `CryptoContext`."""
    sid = session_id.encode("utf-8")
    return struct.pack("<i", len(sid)) + sid + struct.pack("<q", round_)


def advertise_payload(session_id: str, round_: int, sender: int, cipher_pk: bytes, mask_pk: bytes) -> bytes:
    """[from C#: SecAggBinding.AdvertisePayload] label ‖ context ‖ sender (i32 LE) ‖ len (i32 LE) ‖ c^PK ‖ len ‖ s^PK.
    The encryption key comes first, then the mask key (the proto lists them the other way round)."""
    return (ADVERTISE_PAYLOAD_LABEL + signing_context(session_id, round_) + struct.pack("<i", sender)
            + struct.pack("<i", len(cipher_pk)) + cipher_pk + struct.pack("<i", len(mask_pk)) + mask_pk)


def survivor_payload(session_id: str, round_: int, survivors: Sequence[int]) -> bytes:
    """[from C#: SecAggBinding.SurvivorPayload] label ‖ context ‖ count (i32 LE) ‖ ascending roster indices (i32 LE)."""
    return (SURVIVORS_PAYLOAD_LABEL + signing_context(session_id, round_) + struct.pack("<i", len(survivors))
            + b"".join(struct.pack("<i", s) for s in survivors))


def x25519(own: X25519PrivateKey, peer_public: bytes) -> bytes:
    """X25519 (RFC 7748); raises ValueError for a low-order peer key (all-zero shared secret)."""
    return own.exchange(X25519PublicKey.from_public_bytes(peer_public))


def pairwise_seed(own: X25519PrivateKey, own_id: int, peer_public: bytes, peer_id: int, ctx: CryptoContext) -> bytes:
    """s_uv = HKDF-SHA256(X25519, salt = session hash, info = label ‖ ctx ‖ min ‖ max ‖ pk_min ‖ pk_max), 32 bytes."""
    own_public = raw_public(own)
    if own_id < peer_id:
        info = binding_encode(PAIRWISE_LABEL, ctx, [own_id, peer_id], own_public, peer_public)
    else:
        info = binding_encode(PAIRWISE_LABEL, ctx, [peer_id, own_id], peer_public, own_public)
    return hkdf_sha256(x25519(own, peer_public), ctx.session_hash, info, 32)


@dataclass
class ShareChannel:
    """AES-256-GCM keys for shares own → peer and peer → own from one X25519 agreement (`ShareChannel`)."""

    own_id: int
    peer_id: int
    ctx: CryptoContext
    send_key: bytes
    receive_key: bytes

    @staticmethod
    def establish(own: X25519PrivateKey, own_id: int, peer_public: bytes, peer_id: int, ctx: CryptoContext) -> "ShareChannel":
        shared = x25519(own, peer_public)
        own_public = raw_public(own)
        send = hkdf_sha256(shared, ctx.session_hash, binding_encode(SHARE_KEY_LABEL, ctx, [own_id, peer_id], own_public, peer_public), 32)
        receive = hkdf_sha256(shared, ctx.session_hash, binding_encode(SHARE_KEY_LABEL, ctx, [peer_id, own_id], peer_public, own_public), 32)
        return ShareChannel(own_id, peer_id, ctx, send, receive)

    def encrypt(self, plaintext: bytes, random_bytes: RandomBytes = os.urandom) -> bytes:
        """nonce (12, CSPRNG) ‖ ciphertext ‖ tag (16); AD = share-ad label ‖ ctx ‖ sender ‖ receiver."""
        nonce = random_bytes(NONCE_SIZE)
        ad = binding_encode(SHARE_AD_LABEL, self.ctx, [self.own_id, self.peer_id])
        return nonce + AESGCM(self.send_key).encrypt(nonce, plaintext, ad)

    def decrypt(self, ciphertext: bytes) -> bytes:
        if len(ciphertext) < NONCE_SIZE + TAG_SIZE:
            raise SecAggAbort(f"the share from {self.peer_id} is shorter than a nonce and a tag")
        ad = binding_encode(SHARE_AD_LABEL, self.ctx, [self.peer_id, self.own_id])
        try:
            return AESGCM(self.receive_key).decrypt(ciphertext[:NONCE_SIZE], ciphertext[NONCE_SIZE:], ad)
        except InvalidTag:
            raise SecAggAbort(f"the share from {self.peer_id} to {self.own_id} failed authentication") from None


def encode_share_bundle(sender: int, receiver: int, self_share: bytes, key_share: bytes) -> bytes:
    """[from C#: Internal/SecAggShareBundle.cs] sender (i32 LE) ‖ receiver (i32 LE) ‖ len (i32 LE) ‖ share of b_u ‖
    len (i32 LE) ‖ share of s_u^SK."""
    return (struct.pack("<iii", sender, receiver, len(self_share)) + self_share
            + struct.pack("<i", len(key_share)) + key_share)


def decode_share_bundle(bundle: bytes) -> tuple[int, int, bytes, bytes]:
    if len(bundle) < 16:
        raise SecAggAbort("a share bundle is shorter than 16 bytes")
    sender, receiver, first = struct.unpack_from("<iii", bundle)
    if first < 0 or first > len(bundle) - 16:
        raise SecAggAbort("a share bundle's first length is out of range")
    (second,) = struct.unpack_from("<i", bundle, 12 + first)
    if second < 0 or 16 + first + second != len(bundle):
        raise SecAggAbort("a share bundle's second length is out of range")
    return sender, receiver, bundle[12:12 + first], bundle[16 + first:]


# ---------------------------------------------------------------------------------------------------------------------
# Quantization into Z_{2^k} (Kairouz, Liu, Steinke 2021)
# ---------------------------------------------------------------------------------------------------------------------

def quantize(update: Sequence[float], weight: int, clip_range: float, scale: float, modulus_bits: int,
             random_bytes: RandomBytes = os.urandom) -> list[int]:
    """q_i = R(clamp(x_i, −c, c) · (w · s)) mod 2^k, then w as the last coordinate.

    [from C#: StochasticQuantizer.Encode] the factor w · s is formed first (in doubles), R(v) = ⌊v⌋ + [u < v − ⌊v⌋]
    with u = (64 random bits >> 11) · 2^−53, and the negative integer is reduced mod 2^k (two's complement)."""
    m = (1 << modulus_bits) - 1
    factor = float(weight) * scale
    out = []
    randoms = random_bytes(8 * len(update))
    for i, x in enumerate(update):
        if not math.isfinite(x):
            raise ValueError(f"update value {i} is {x}")
        v = min(max(float(x), -clip_range), clip_range) * factor
        fl = math.floor(v)
        u = (int.from_bytes(randoms[8 * i:8 * i + 8], "little") >> 11) * (1.0 / (1 << 53))
        q = int(fl) + (1 if u < v - fl else 0)
        out.append(q & m)
    out.append(weight & m)
    return out


def signed(value: int, modulus_bits: int) -> int:
    """The two's-complement reading of an element of Z_{2^k}."""
    return value - (1 << modulus_bits) if value >> (modulus_bits - 1) else value


# =====================================================================================================================
# The protocol client (sans-IO), one method per stage
# =====================================================================================================================

class SecAggAbort(Exception):
    """The client refuses to go on (evidence of a misbehaving server, or too few peers); it reveals nothing more."""


@dataclass
class Setup:
    """The parts of SecAggSetup the client uses, with its roster index."""

    session_id: str
    round: int
    roster: list[str]
    identity_keys: list[bytes]
    threshold: int
    neighbour_count: int
    modulus_bits: int
    signature_quorum: int
    graph_seed: bytes
    dimension: int
    clip_range: float
    scale: float
    max_weight: int
    max_clients: int
    unit_weight: bool
    poll_interval_ms: int
    me: int

    @staticmethod
    def from_proto(setup: pb.SecAggSetup, round_: int, client_id: str) -> "Setup":
        roster = [r.client_id for r in setup.roster]
        if len(set(roster)) != len(roster):
            raise ValueError("the roster names a client twice")
        if client_id not in roster:
            raise ValueError(f"the roster does not include this client ('{client_id}')")
        n = len(roster)
        if setup.dp_noise_variance or setup.dp_min_survivors or setup.dp_rounding_beta:
            raise NotImplementedError("distributed DP (dp_noise_variance) is not implemented by this client")
        if setup.clip_indicator:
            raise NotImplementedError("the adaptive-clipping indicator is not implemented by this client")
        if not 1 <= setup.modulus_bits <= 62:
            raise ValueError(f"modulus_bits {setup.modulus_bits} is outside 1 … 62")
        k = setup.neighbour_count
        if not 1 <= k <= n - 1 or not 1 <= setup.threshold <= k or not 1 <= setup.signature_quorum <= n:
            raise ValueError(f"inconsistent n = {n}, k = {k}, t = {setup.threshold}, quorum = {setup.signature_quorum}")
        if len(setup.graph_seed) != 32:
            raise ValueError("the graph seed is not 32 bytes")
        if setup.max_clients < n:
            raise ValueError(f"the quantizer's headroom covers {setup.max_clients} clients, fewer than the roster's {n}")
        if not 16 <= len(setup.session_id.encode("utf-8")) <= 255:
            raise ValueError("the session id has an unusable length")
        # The quantizer headroom rule (docs: "Headroom rule"): the decoded sum and the weight sum must not wrap.
        half = (1 << (setup.modulus_bits - 1)) - 1
        if (setup.max_clients * math.ceil(setup.max_weight * setup.clip_range * setup.scale) > half
                or setup.max_clients * setup.max_weight > half):
            raise ValueError("the quantizer parameters let the sum wrap")
        keys = [bytes(r.identity_public_key) for r in setup.roster]
        if any(len(key) != 32 for key in keys):
            raise ValueError("an identity key is not 32 bytes")
        return Setup(setup.session_id, round_, roster, keys, setup.threshold, k, setup.modulus_bits,
                     setup.signature_quorum, bytes(setup.graph_seed), setup.dimension, setup.clip_range, setup.scale,
                     setup.max_weight, setup.max_clients, setup.unit_weight, setup.poll_interval_ms, roster.index(client_id))


@dataclass
class _Peer:
    channel: ShareChannel
    mask_seed: bytes


@dataclass
class SecAggParticipant:
    """One client's state machine for one round (`SecAggClient`). Protocol ids are roster indices."""

    setup: Setup
    identity: Ed25519PrivateKey
    input: list[int]
    stage: str = "advertise-keys"
    _cipher_key: X25519PrivateKey | None = None
    _mask_key: X25519PrivateKey | None = None
    _neighbours: list[int] = field(default_factory=list)
    _peers: dict[int, _Peer] = field(default_factory=dict)
    _self_seed: bytes = b""
    _own_self_share: bytes = b""
    _held: dict[int, tuple[bytes, bytes]] = field(default_factory=dict)
    _signed: list[int] = field(default_factory=list)
    _signed_payload: bytes = b""

    def __post_init__(self) -> None:
        s = self.setup
        if raw_public(self.identity) != s.identity_keys[s.me]:
            raise ValueError("the identity key is not the roster's key for this client")
        if len(self.input) != s.dimension:
            raise ValueError(f"the input has {len(self.input)} words; the setup says {s.dimension}")
        self._neighbours = neighbour_graph(len(s.roster), s.neighbour_count, s.graph_seed)[s.me]
        self.ctx = CryptoContext.of(s.session_id, s.round)

    def _verify(self, who: int, purpose: str, payload: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.setup.identity_keys[who]).verify(signature, purpose_framed(purpose, payload))
            return True
        except (InvalidSignature, ValueError):
            return False

    def _abort(self, why: str) -> SecAggAbort:
        self.stage = "aborted"
        self._peers.clear()
        self._held.clear()
        return SecAggAbort(why)

    # Stage 0 -------------------------------------------------------------------------------------------------------
    def advertise_keys(self) -> pb.AdvertiseKeys:
        """Draws c_u and s_u (X25519) and signs their public halves with the identity key."""
        assert self.stage == "advertise-keys"
        self._cipher_key = X25519PrivateKey.from_private_bytes(os.urandom(32))
        self._mask_key = X25519PrivateKey.from_private_bytes(os.urandom(32))
        cpk, mpk = raw_public(self._cipher_key), raw_public(self._mask_key)
        payload = advertise_payload(self.setup.session_id, self.setup.round, self.setup.me, cpk, mpk)
        signature = self.identity.sign(purpose_framed(ADVERTISE_PURPOSE, payload))
        self.stage = "share-keys"
        return pb.AdvertiseKeys(mask_public_key=mpk, encryption_public_key=cpk, signature=signature)

    # Stage 1 -------------------------------------------------------------------------------------------------------
    def share_keys(self, broadcast: pb.KeysBroadcast) -> pb.ShareKeys:
        """Checks each neighbour's signed keys, shares b_u and s_u^SK among the neighbours and itself (x = id + 1),
        and encrypts each neighbour's two shares to it."""
        assert self.stage == "share-keys" and self._cipher_key and self._mask_key
        s = self.setup
        index = {cid: i for i, cid in enumerate(s.roster)}
        for entry in broadcast.peers:
            v = index.get(entry.client_id)
            if v is None or v not in self._neighbours:
                raise self._abort(f"the key broadcast lists '{entry.client_id}', not a neighbour")
            if v in self._peers:
                raise self._abort(f"the key broadcast lists client {v} twice")
            k = entry.keys
            cpk, mpk, sig = bytes(k.encryption_public_key), bytes(k.mask_public_key), bytes(k.signature)
            if len(cpk) != 32 or len(mpk) != 32 or len(sig) != 64 or not self._verify(
                    v, ADVERTISE_PURPOSE, advertise_payload(s.session_id, s.round, v, cpk, mpk), sig):
                raise self._abort(f"the advertised keys of client {v} do not verify under its identity key")
            try:
                self._peers[v] = _Peer(ShareChannel.establish(self._cipher_key, s.me, cpk, v, self.ctx),
                                       pairwise_seed(self._mask_key, s.me, mpk, v, self.ctx))
            except ValueError:
                raise self._abort(f"client {v} advertised a low-order X25519 key") from None
        if len(self._peers) + 1 < s.threshold:
            raise self._abort(f"keys from {len(self._peers)} neighbours: below the threshold t = {s.threshold}")
        self._self_seed = secrets.token_bytes(SEED_SIZE)
        holders = sorted(list(self._peers) + [s.me])
        xs = [h + 1 for h in holders]
        self_shares = shamir_split(self._self_seed, xs, s.threshold)
        key_shares = shamir_split(raw_private(self._mask_key), xs, s.threshold)
        out = pb.ShareKeys()
        for h, self_share, key_share in zip(holders, self_shares, key_shares):
            if h == s.me:
                self._own_self_share = self_share  # kept; the own share of s_u^SK is dropped
                continue
            ciphertext = self._peers[h].channel.encrypt(encode_share_bundle(s.me, h, self_share, key_share))
            out.shares.add(from_client_id=s.roster[s.me], to_client_id=s.roster[h], ciphertext=ciphertext)
        self.stage = "masked-input"
        return out

    # Stage 2 -------------------------------------------------------------------------------------------------------
    def masked_input(self, delivery: pb.SharesDelivery) -> pb.MaskedInput:
        """Opens the shares addressed to this client, then y_u = x_u + PRG(b_u) + Σ_{v ∈ U2 ∩ N(u)} ±PRG(s_uv) mod 2^k
        (+ when u < v, − when u > v)."""
        assert self.stage == "masked-input"
        s = self.setup
        index = {cid: i for i, cid in enumerate(s.roster)}
        for bundle in delivery.shares:
            v, to = index.get(bundle.from_client_id), index.get(bundle.to_client_id)
            if to != s.me:
                raise self._abort(f"a share addressed to '{bundle.to_client_id}' was delivered here")
            if v not in self._peers:
                raise self._abort(f"a share from '{bundle.from_client_id}', whose keys were not accepted")
            if v in self._held:
                raise self._abort(f"two shares from client {v}")
            sender, receiver, self_share, key_share = decode_share_bundle(self._peers[v].channel.decrypt(bytes(bundle.ciphertext)))
            if sender != v or receiver != s.me:
                raise self._abort(f"the bundle from {v} names {sender} → {receiver} inside")
            self._held[v] = (self_share, key_share)
        if len(self._held) + 1 < s.threshold:
            raise self._abort(f"shares from {len(self._held)} neighbours: below the threshold t = {s.threshold}")
        y = list(self.input)
        apply_mask(y, self._self_seed, s.modulus_bits, +1)
        for v in sorted(self._held):
            apply_mask(y, self._peers[v].mask_seed, s.modulus_bits, +1 if s.me < v else -1)
        self.input = []
        self._peers.clear()
        width = 4 if s.modulus_bits <= 32 else 8
        self.stage = "consistency"
        return pb.MaskedInput(masked=struct.pack(f"<{len(y)}{'I' if width == 4 else 'Q'}", *y))

    # Stage 3 -------------------------------------------------------------------------------------------------------
    def consistency_signature(self, survivor_list: pb.SurvivorList) -> pb.ConsistencySignature:
        """Checks the survivor list (ascending roster members, itself in it, at least t, no neighbour it did not mask
        with) and signs it, once."""
        assert self.stage == "consistency"
        s = self.setup
        index = {cid: i for i, cid in enumerate(s.roster)}
        survivors = []
        for cid in survivor_list.survivors:
            u = index.get(cid)
            if u is None or (survivors and u <= survivors[-1]):
                raise self._abort("the survivor list is not ascending distinct roster members")
            survivors.append(u)
        if s.me not in survivors:
            raise self._abort("the survivor list leaves this client out")
        if len(survivors) < s.threshold:
            raise self._abort(f"{len(survivors)} survivors: below t = {s.threshold}")
        for v in survivors:
            if v != s.me and v in self._neighbours and v not in self._held:
                raise self._abort(f"the survivor list names neighbour {v}, whose shares never arrived")
        self._signed = survivors
        self._signed_payload = survivor_payload(s.session_id, s.round, survivors)
        self.stage = "unmasking"
        return pb.ConsistencySignature(signature=self.identity.sign(purpose_framed(SURVIVORS_PURPOSE, self._signed_payload)))

    # Stage 4 -------------------------------------------------------------------------------------------------------
    def unmasking_response(self, request: pb.UnmaskingRequest) -> pb.UnmaskingResponse:
        """Checks the list is the one it signed and a quorum signed it too, then reveals b-shares of surviving
        neighbours (and its own) and s^SK-shares of dropped neighbours, never both for one peer."""
        assert self.stage == "unmasking"
        s = self.setup
        index = {cid: i for i, cid in enumerate(s.roster)}
        if [index.get(c, -1) for c in request.survivors] != self._signed:
            raise self._abort("the unmasking request's survivor list differs from the one signed")
        signed_set = set(self._signed)
        signers: set[int] = set()
        for ps in request.signatures:
            v = index.get(ps.client_id)
            if v is None or v not in signed_set or v in signers:
                raise self._abort(f"a survivor-list signature from '{ps.client_id}' is not a survivor's, or repeated")
            if not self._verify(v, SURVIVORS_PURPOSE, self._signed_payload, bytes(ps.signature)):
                raise self._abort(f"client {v}'s survivor-list signature does not verify over the list signed here")
            signers.add(v)
        if len(signers) < s.signature_quorum:
            raise self._abort(f"{len(signers)} survivor-list signatures; the quorum is {s.signature_quorum}")
        dropped: set[int] = set()
        for cid in request.dropped:
            v = index.get(cid)
            if v is None or v in signed_set:
                raise self._abort(f"'{cid}' is asked for as dropped and survivor (or is unknown)")
            if v in dropped or v not in self._held:
                raise self._abort(f"dropped client {v} is repeated or its shares are not held here")
            dropped.add(v)
        out = pb.UnmaskingResponse()
        out.self_mask_shares.add(owner_client_id=s.roster[s.me], share=self._own_self_share)
        for v in sorted(self._held):
            self_share, key_share = self._held[v]
            if v in signed_set:
                out.self_mask_shares.add(owner_client_id=s.roster[v], share=self_share)
            elif v in dropped:
                out.mask_key_shares.add(owner_client_id=s.roster[v], share=key_share)
        self._held.clear()
        self.stage = "completed"
        return out


# =====================================================================================================================
# Over the wire: the signed SecAgg RPC with long polls
# =====================================================================================================================

SECAGG_METHOD = "SecAgg"
LONG_POLL_MS = 5000
TRANSIENT = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.RESOURCE_EXHAUSTED,
             grpc.StatusCode.ABORTED, grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}


class SecAggWire:
    """Signed SecAgg calls through a `confide_client.ConfideClient` (its key signs, its channel carries)."""

    def __init__(self, client) -> None:
        self.client = client
        self._call = client.channel.unary_unary("/confide.v1.Federation/SecAgg", request_serializer=pb.SecAggRequest.SerializeToString,
                                                response_deserializer=pb.SecAggResponse.FromString)

    def send(self, request: pb.SecAggRequest, timeout: float = 30, retry: bool = True) -> pb.SecAggResponse:
        """One call, retried on transient failures with a fresh signature. A redelivered stage message (its answer was
        lost) becomes a poll when the server answers ALREADY_EXISTS, as SecAggWireClient does: the server holds the
        first copy, even when its stage has closed since."""
        delay = 0.1
        for attempt in range(1, 7 if retry else 2):
            body = request.SerializeToString()
            metadata = self.client.signature_metadata(SECAGG_METHOD, hashlib.sha256(body).digest())
            try:
                return self._call(request, metadata=metadata, timeout=timeout)
            except grpc.RpcError as e:
                if attempt > 1 and request.WhichOneof("stage") != "poll" and e.code() == grpc.StatusCode.ALREADY_EXISTS:
                    request = poll_request(request.round, request.session_id)
                    continue
                if not retry or e.code() not in TRANSIENT or attempt == 6:
                    raise
                time.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")


def poll_request(round_: int, session_id: str) -> pb.SecAggRequest:
    return pb.SecAggRequest(round=round_, session_id=session_id, poll=pb.SecAggPoll(wait_ms=LONG_POLL_MS))


@dataclass
class SecureRoundResult:
    outcome: str  # "completed", "aborted", "vanished" or "refused"
    detail: str


def run_secure_round(client, task: pb.RoundTask, delta: Sequence[float], sample_count: int,
                     vanish_before: str | None = None, log: Callable[[str], None] = lambda s: None) -> SecureRoundResult:
    """Runs this client's part of the secure round of `task` with `delta` (trained − global, flattened in the model's
    tensor order) and its sample count. `vanish_before` ("share-keys", "masked-input", "consistency", "unmasking")
    makes the client stop silently before that stage's message (a dropout, for tests)."""
    setup = Setup.from_proto(task.secure_aggregation, task.round, client.client_id)
    if setup.dimension != len(delta) + 1:
        raise ValueError(f"the setup's dimension {setup.dimension} does not fit a model of {len(delta)} parameters")
    values = list(delta)
    if task.clip_norm > 0:  # DP-FedAvg client clipping, as FederatedParticipant does before the secure round
        norm = math.sqrt(sum(v * v for v in values))
        if norm > task.clip_norm:
            values = [v * (task.clip_norm / norm) for v in values]
    if setup.unit_weight:  # central DP: L2-clip to clip_range, weight 1
        norm = math.sqrt(sum(v * v for v in values))
        if norm > setup.clip_range:
            values = [v * (setup.clip_range / norm) for v in values]
        weight = 1
    else:
        weight = sample_count
    if not 1 <= weight <= setup.max_weight:
        raise ValueError(f"the weight {weight} is outside 1 … {setup.max_weight}")
    x = quantize(values, weight, setup.clip_range, setup.scale, setup.modulus_bits)
    participant = SecAggParticipant(setup, client.key, x)
    wire = SecAggWire(client)

    def request(**stage) -> pb.SecAggRequest:
        return pb.SecAggRequest(round=setup.round, session_id=setup.session_id, **stage)

    try:
        response = wire.send(request(advertise_keys=participant.advertise_keys()))
        just_sent = True
        while True:
            if response.outcome == "completed":
                return SecureRoundResult("completed", "the round completed")
            if response.outcome == "aborted":
                return SecureRoundResult("aborted", response.detail)
            if response.outcome:
                raise ValueError(f"unknown SecAgg outcome '{response.outcome}'")
            kind = response.WhichOneof("next")
            if kind is None:
                if not just_sent:
                    time.sleep(min(max(response.retry_after_ms or setup.poll_interval_ms, 10), 10_000) / 1000)
                response = wire.send(poll_request(setup.round, setup.session_id), timeout=LONG_POLL_MS / 1000 + 30)
                just_sent = False
                continue
            stage = {"keys_broadcast": "share-keys", "shares_delivery": "masked-input",
                     "survivor_list": "consistency", "unmasking_request": "unmasking"}[kind]
            if stage == vanish_before:
                return SecureRoundResult("vanished", f"vanished before {stage}")
            log(f"round {setup.round}: {stage}")
            if kind == "keys_broadcast":
                reply = request(share_keys=participant.share_keys(response.keys_broadcast))
            elif kind == "shares_delivery":
                reply = request(masked_input=participant.masked_input(response.shares_delivery))
            elif kind == "survivor_list":
                reply = request(consistency_signature=participant.consistency_signature(response.survivor_list))
            else:
                reply = request(unmasking_response=participant.unmasking_response(response.unmasking_request))
            response = wire.send(reply)
            just_sent = True
            if kind == "unmasking_request":
                return SecureRoundResult("completed", "sent the unmasking shares")
    except SecAggAbort as e:
        return SecureRoundResult("refused", str(e))


def flatten(values: Iterable[Iterable[float]]) -> list[float]:
    return [v for t in values for v in t]
