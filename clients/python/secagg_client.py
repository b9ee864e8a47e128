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

Scope: weight = the sample count (unit_weight false) or 1 with per-update L2 clipping (unit_weight true, DP), and
- distributed DP (dp_noise_variance > 0; `confide server --dp-mode distributed`): Kairouz, Liu, Steinke, "The Distributed
  Discrete Gaussian Mechanism for Federated Learning with Secure Aggregation" (ICML 2021). The client rebuilds the plan
  from the setup (`DistributedDpPlan`: it recomputes the ⌈12σ⌉ noise headroom and the norm bound Δ₂ itself and refuses a
  setup whose noisy sum could wrap), clips to L2 norm clip_range, rounds stochastically until the rounded norm is
  within Δ₂ (conditional rounding), adds exact discrete Gaussian noise N_Z(0, σ²) (Canonne, Kamath, Steinke, "The
  Discrete Gaussian for Differential Privacy", NeurIPS 2020) to every model coordinate, masks, and refuses to sign or
  unmask a survivor list shorter than dp_min_survivors;
- the adaptive-clipping indicator (clip_indicator; Andrew, Thakkar, McMahan, Ramaswamy, "Differentially Private
  Learning with Adaptive Clipping", NeurIPS 2021): one more, unscaled coordinate after the weight, 1 when the update's
  L2 norm before clipping was at most the clip norm, else 0.
The two are not combined (the .NET client refuses such a setup, and so does this one).

Every secret (X25519 keys, the self-mask seed b_u, Shamir coefficients, AES-GCM nonces, rounding draws, DP noise)
comes from the operating system's CSPRNG (`secrets` / `os.urandom`); the rounding and the noise go through an
injectable `RandomSource` (`CryptoRandomSource` by default), so a `SeededRandomSource` can replay .NET's seeded draws.
Secrets live in Python `bytes`/`int` objects, which cannot be reliably zeroed; this client makes no attempt to.
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


# ---------------------------------------------------------------------------------------------------------------------
# Random sources (Confide.Randomness.IRandomSource): injectable, so a fixed source reproduces .NET's draws
# ---------------------------------------------------------------------------------------------------------------------

class RandomSource:
    """The interface of `IRandomSource`: next_bytes, next_u64 (8 bytes little-endian), below(m) without modulo bias,
    and fork(stream), an independent source for one purpose."""

    def next_bytes(self, n: int) -> bytes:
        raise NotImplementedError

    def next_u64(self) -> int:
        return int.from_bytes(self.next_bytes(8), "little")

    def below(self, exclusive_max: int) -> int:
        """[from C#: IRandomSource.NextUInt64Below] rejection on x > 2^64 − 1 − ((2^64 − 1) mod m) − 1, then x mod m
        (so even m = 1 consumes a word, and 2^64 − 1 is always rejected)."""
        if not 1 <= exclusive_max <= U64:
            raise ValueError(f"below({exclusive_max})")
        limit = U64 - (U64 % exclusive_max) - 1
        while True:
            x = self.next_u64()
            if x <= limit:
                return x % exclusive_max

    def fork(self, stream: int) -> "RandomSource":
        raise NotImplementedError


class CryptoRandomSource(RandomSource):
    """The production source: the operating system's CSPRNG (os.urandom). As .NET's CryptoRandomSource, fork() returns
    the same source (every draw is already independent)."""

    def next_bytes(self, n: int) -> bytes:
        return os.urandom(n)

    def fork(self, stream: int) -> "RandomSource":
        return self


def _splitmix(x: int) -> tuple[int, int]:
    x = (x + 0x9E3779B97F4A7C15) & U64
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & U64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & U64
    return x, z ^ (z >> 31)


def _rotl(x: int, k: int) -> int:
    return ((x << k) | (x >> (64 - k))) & U64


class SeededRandomSource(RandomSource):
    """[from C#: Randomness/SeededRandomSource.cs] xoshiro256** (Blackman and Vigna, ACM TOMS 2021) seeded through
    SplitMix64; Fork(stream) = a new source seeded with SplitMix64(seed ^ (0x9E3779B97F4A7C15 · (stream + 1))). NOT a
    CSPRNG: known-answer tests only, to reproduce .NET's seeded draws."""

    def __init__(self, seed: int):
        self.seed = seed & U64
        x = self.seed
        x, self._s0 = _splitmix(x)
        x, self._s1 = _splitmix(x)
        x, self._s2 = _splitmix(x)
        x, self._s3 = _splitmix(x)

    def next_u64(self) -> int:
        result = (_rotl((self._s1 * 5) & U64, 7) * 9) & U64
        t = (self._s1 << 17) & U64
        self._s2 ^= self._s0
        self._s3 ^= self._s1
        self._s1 ^= self._s2
        self._s0 ^= self._s3
        self._s2 ^= t
        self._s3 = _rotl(self._s3, 45)
        return result

    def next_bytes(self, n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            out += self.next_u64().to_bytes(8, "little")
        return bytes(out[:n])

    def fork(self, stream: int) -> "RandomSource":
        x = self.seed ^ ((0x9E3779B97F4A7C15 * ((stream + 1) & U64)) & U64)
        return SeededRandomSource(_splitmix(x)[1])


# ---------------------------------------------------------------------------------------------------------------------
# The exact discrete Gaussian (Canonne, Kamath, Steinke, "The Discrete Gaussian for Differential Privacy", NeurIPS 2020)
# ---------------------------------------------------------------------------------------------------------------------

_U128 = (1 << 128) - 1


def _uniform_below_128(source: RandomSource, bound: int) -> int:
    """[from C#: DiscreteGaussian.UniformBelow(UInt128)] below 2^64: NextUInt64Below; else rejection on the smallest
    power of two above the bound, x = (first word << 64 | second word) & mask."""
    if bound <= U64:
        return source.below(bound)
    mask = (1 << (bound - 1).bit_length()) - 1
    while True:
        hi = source.next_u64()
        lo = source.next_u64()
        x = ((hi << 64) | lo) & mask
        if x < bound:
            return x


def _uniform_below_big(source: RandomSource, bound: int) -> int:
    """[from C#: DiscreteGaussian.UniformBelow(BigInteger)] below 2^64: NextUInt64Below; else ⌈bits/8⌉ bytes read
    little-endian, the top byte masked to the bound's bit length, rejected until below the bound."""
    if bound <= U64:
        return source.below(bound)
    bits = bound.bit_length()
    nbytes = (bits + 7) // 8
    top_mask = (1 << (bits - 8 * (nbytes - 1))) - 1
    while True:
        buf = bytearray(source.next_bytes(nbytes))
        buf[-1] &= top_mask
        x = int.from_bytes(buf, "little")
        if x < bound:
            return x


def _bernoulli_exp_minus_one(source: RandomSource) -> bool:
    """Bernoulli(exp(−1)) (CKS 2020, Algorithm 1 with γ = 1): K is the first k with Bernoulli(1/k) = 0; odd K → true."""
    k = 1
    while source.below(k) == 0:
        k += 1
    return k & 1 == 1


def bernoulli_exp_minus(source: RandomSource, n: int, d: int, big: bool = False) -> bool:
    """Bernoulli(exp(−n/d)) for integers n ≥ 0, d > 0, exactly (CKS 2020, Algorithm 1): exp(−γ) = exp(−1)^⌊γ⌋ ·
    exp(−(γ − ⌊γ⌋)); for γ ∈ [0, 1], K is the first k with Bernoulli(γ/k) = 0 and the result is whether K is odd.

    `big` selects which of .NET's two code paths (UInt128 or BigInteger) is mirrored: they are the same algorithm and
    the same distribution but draw the uniforms above 2^64 differently, which matters only for byte-exact replays."""
    if n > d:
        whole, n = divmod(n, d)
        for _ in range(whole):
            if not _bernoulli_exp_minus_one(source):
                return False
    k = 1
    while True:
        dk = d * k
        if not big and dk > _U128:  # [from C#] the UInt128 loop falls back to BigInteger once d·k overflows
            big = True
        u = _uniform_below_big(source, dk) if big else _uniform_below_128(source, dk)
        if u >= n:
            return k & 1 == 1
        k += 1


class DiscreteGaussian:
    """An exact sampler of N_Z(0, σ²), P(x) ∝ exp(−x²/(2σ²)) on the integers, for an integer variance σ² ≥ 1:
    Canonne, Kamath, Steinke, "The Discrete Gaussian for Differential Privacy" (NeurIPS 2020), Algorithms 1–3. No
    floating point touches the sampling: Bernoulli(exp(−γ)) for rational γ uses uniform integers only (Algorithm 1),
    the discrete Laplace with scale t = ⌊σ⌋ + 1 is drawn by rejection (Algorithm 2), and the discrete Gaussian by
    rejection from it with γ = (|Y| − σ²/t)² / (2σ²) (Algorithm 3).

    Mirrors `Confide.Privacy.DiscreteGaussian.FromVariance(σ², 1)` draw for draw, so a SeededRandomSource reproduces
    .NET's samples (ddp_vectors.py checks it against docs/ddp-vectors.json)."""

    def __init__(self, variance: int):
        if variance < 1:
            raise ValueError("σ² must be a positive integer")
        self.num, self.den = variance, 1
        self.t = math.isqrt(variance // 1) + 1
        self.two_num_t2_den = 2 * self.num * self.t * self.t * self.den
        t_den = self.t * self.den
        # [from C#] the UInt128 fast path: N < 2^62, t·D < 2^62, 2·N·t²·D ≤ 2^128 − 1, and |Y| ≤ ⌊2^62 / (t·D)⌋.
        self.fast = self.num < (1 << 62) and t_den < (1 << 62) and self.two_num_t2_den <= _U128
        self.fast_max_abs_y = (1 << 62) // t_den if self.fast else 0

    def discrete_laplace(self, source: RandomSource) -> int:
        """P(x) ∝ exp(−|x|/t) (CKS 2020, Algorithm 2)."""
        t = self.t
        while True:
            u = source.below(t)
            if not bernoulli_exp_minus(source, u, t):
                continue
            v = 0
            while _bernoulli_exp_minus_one(source):
                v += 1
            x = u + t * v
            negative = source.next_u64() & 1 == 1
            if negative and x == 0:
                continue
            return -x if negative else x

    def sample(self, source: RandomSource) -> int:
        """One sample from N_Z(0, σ²) (CKS 2020, Algorithm 3)."""
        while True:
            y = self.discrete_laplace(source)
            diff = abs(abs(y) * self.t * self.den - self.num)
            big = not (self.fast and abs(y) <= self.fast_max_abs_y)
            if bernoulli_exp_minus(source, diff * diff, self.two_num_t2_den, big=big):
                return y


# ---------------------------------------------------------------------------------------------------------------------
# Distributed DP (Kairouz, Liu, Steinke, "The Distributed Discrete Gaussian Mechanism for Federated Learning with
# Secure Aggregation", ICML 2021): the client's plan, rebuilt from the setup and checked, never trusted
# ---------------------------------------------------------------------------------------------------------------------

NOISE_HEADROOM_SIGMAS = 12.0      # [from C#: DistributedDpPlan.NoiseHeadroomSigmas]
MAX_CLIENT_SIGMA = 1e9            # [from C#: DistributedDpPlan.MaxClientSigma]
MAX_CONDITIONAL_ROUNDING_TRIES = 1000  # [from C#: DistributedDpEncoder.MaxConditionalRoundingTries]
NOISE_STREAM = 0x6444_5000_0000_0000   # [from C#: SecAggWireClient.NoiseStream]; the round's fork is this + round
CLIP_MARGIN = 1.0 - 1.0 / (1 << 20)    # [from C#: L2Clipping.Margin]


def rounded_l2_bound(scaled_norm: float, dimension: int, beta: float) -> float:
    """Δ₂ in quanta after stochastic rounding of a vector of L2 norm ≤ c·s in d coordinates (KLS 2021, Theorem 1 and
    its conditional-rounding bound): c·s + √d, or with β > 0 the smaller of that and
    √(c²s² + d/4 + √(2 ln(1/β))·(c·s + √d/2)). Same double arithmetic as DistributedDiscreteGaussian.RoundedL2Bound."""
    if not (scaled_norm > 0 and math.isfinite(scaled_norm)):
        raise ValueError("the scaled clip norm c·s must be a positive finite number of quanta")
    if dimension <= 0:
        raise ValueError("the dimension must be positive")
    if not 0 <= beta < 1:
        raise ValueError(f"the conditional-rounding β = {beta} is outside [0, 1)")
    sqrt_d = math.sqrt(dimension)
    always = scaled_norm + sqrt_d
    if beta == 0:
        return always
    conditional = math.sqrt((scaled_norm * scaled_norm) + (dimension / 4.0)
                            + (math.sqrt(2 * math.log(1 / beta)) * (scaled_norm + (sqrt_d / 2))))
    return min(always, conditional)


def rounded_l1_bound(l2: float, dimension: int) -> float:
    """Δ₁ ≤ max(1, min(√d, Δ₂))·Δ₂ for an integer vector (DistributedDiscreteGaussian.RoundedL1Bound)."""
    return l2 * max(1.0, min(math.sqrt(dimension), l2))


@dataclass
class DistributedDpPlan:
    """The client's view of distributed DP (Kairouz, Liu, Steinke 2021), rebuilt from the setup's numbers with the
    checks of .NET's `DistributedDpPlan` constructor: c > 0 finite, s > 0 finite with c·s ≥ 1 quantum, d ≥ 1, N ≥ 2,
    2 ≤ n_min ≤ N, 1 ≤ σ² with σ ≤ 10⁹, β ∈ [0, 1); the noise headroom ⌈12σ⌉ and the norm bound Δ₂ are computed here,
    and the quantizer's headroom rule must hold with that noise: N·(⌈c·s⌉ + ⌈12σ⌉) ≤ 2^(k−1) − 1, c·s ≤ 2^52,
    N ≤ 2^(k−1) − 1, 2 ≤ k ≤ 62. Any failure raises ValueError (the client sits the round out)."""

    clip_norm: float
    scale: float
    modulus_bits: int
    max_clients: int
    dimension: int
    noise_variance: int
    min_survivors: int
    beta: float

    def __post_init__(self) -> None:
        c, s, k, n = self.clip_norm, self.scale, self.modulus_bits, self.max_clients
        if not (c > 0 and math.isfinite(c)):
            raise ValueError(f"the clip norm {c} is not a positive finite number")
        if not (s > 0 and math.isfinite(s)):
            raise ValueError(f"the scale {s} is not a positive finite number")
        if c * s < 1:
            raise ValueError(f"c·s = {c * s:g} is below one quantum: the clipped update would round to noise alone")
        if self.dimension <= 0:
            raise ValueError("the dimension must be positive")
        if n < 2:
            raise ValueError("secure aggregation sums at least 2 clients")
        if not 2 <= self.min_survivors <= n:
            raise ValueError(f"the minimum survivors {self.min_survivors} are outside 2 … {n}")
        self.sigma = math.sqrt(float(self.noise_variance))
        if self.noise_variance < 1 or self.sigma > MAX_CLIENT_SIGMA:
            raise ValueError(f"the noise variance {self.noise_variance} is outside 1 … 1e18 quanta²: without noise the sum is not private")
        self.noise_headroom = math.ceil(NOISE_HEADROOM_SIGMAS * self.sigma)
        self.l2_sensitivity = rounded_l2_bound(c * s, self.dimension, self.beta)
        self.l1_sensitivity = rounded_l1_bound(self.l2_sensitivity, self.dimension)
        # QuantizerOptions(c, s, max_weight 1, N, k, headroom) in doubles, as .NET computes it.
        if not 2 <= k <= 62:
            raise ValueError(f"modulus_bits {k} is outside 2 … 62")
        limit = math.pow(2, k - 1) - 1
        if c * s > float(1 << 52):
            raise ValueError(f"c·s = {c * s:g} quanta exceeds 2^52")
        bound = n * (math.ceil(c * s) + self.noise_headroom)
        if float(bound) > limit:
            raise ValueError(f"the noisy sum could wrap Z_2^{k}: {n} clients × ({math.ceil(c * s)} quanta + noise "
                             f"headroom {self.noise_headroom}) = {bound} exceeds 2^{k - 1} − 1")
        if float(n) > limit:
            raise ValueError(f"the summed weight could wrap Z_2^{k}")
        self.sampler = DiscreteGaussian(self.noise_variance)

    @property
    def effective_noise_multiplier(self) -> float:
        """z = √n_min·σ/Δ₂."""
        return math.sqrt(self.min_survivors) * self.sigma / self.l2_sensitivity

    def encode(self, update: Sequence[float], source: RandomSource, round_conditionally: bool = True) -> list[int]:
        """[from C#: DistributedDpEncoder.Encode] stochastic rounding with weight 1 from source.fork(0).fork(attempt),
        repeated (at most 1000 tries) until Σ signed(q_i)² ≤ Δ₂² (conditional rounding, KLS 2021 section 4); then
        N_Z(0, σ²) from source.fork(1) added to every update coordinate (not to the weight), mod 2^k. The update is
        expected already clipped to L2 norm c."""
        if len(update) != self.dimension:
            raise ValueError(f"the update has {len(update)} values; the plan noises {self.dimension}")
        k = self.modulus_bits
        mask = (1 << k) - 1
        max_sq = self.l2_sensitivity * self.l2_sensitivity if round_conditionally else math.inf
        rounding = source.fork(0)
        for attempt in range(MAX_CONDITIONAL_ROUNDING_TRIES):
            q = quantize(update, 1, self.clip_norm, self.scale, k, rounding.fork(attempt).next_bytes)
            squared = 0.0
            for i in range(len(update)):
                v = float(signed(q[i], k))
                squared += v * v
            if squared <= max_sq:
                break
        else:
            raise ValueError(f"the rounded update stayed above the norm bound √{max_sq:g} quanta after "
                             f"{MAX_CONDITIONAL_ROUNDING_TRIES} tries; it was not clipped to the clip norm")
        noise = source.fork(1)
        for i in range(len(update)):
            q[i] = (q[i] + self.sampler.sample(noise)) & mask
        return q


def noise_random(source: RandomSource, round_: int) -> RandomSource:
    """[from C#: SecAggWireClient.NoiseRandom] the round's rounding and noise source: source.fork(0x6444500000000000 +
    round) (the OS CSPRNG forks into itself)."""
    return source.fork((NOISE_STREAM + round_) & U64)


def f32(x: float) -> float:
    return struct.unpack("<f", struct.pack("<f", x))[0]


def l2_clip_f32(values: list[float], clip_norm: float) -> list[float]:
    """[from C#: L2Clipping.Clip] when the norm exceeds C, multiply by the float32 of C/norm·(1 − 2^−20), rounding each
    product to float32 (the margin keeps the clipped norm at most C despite float rounding)."""
    norm = math.sqrt(math.fsum(v * v for v in values))
    if not math.isfinite(norm):
        raise ValueError("the update holds a NaN or infinite value")
    if norm <= clip_norm:
        return values
    factor = f32(clip_norm / norm * CLIP_MARGIN)
    return [f32(v * factor) for v in values]


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
    dp_noise_variance: int = 0
    dp_rounding_beta: float = 0.0
    dp_min_survivors: int = 0
    clip_indicator: bool = False
    clip_indicator_index: int = 0

    @staticmethod
    def from_proto(setup: pb.SecAggSetup, round_: int, client_id: str) -> "Setup":
        roster = [r.client_id for r in setup.roster]
        if len(set(roster)) != len(roster):
            raise ValueError("the roster names a client twice")
        if client_id not in roster:
            raise ValueError(f"the roster does not include this client ('{client_id}')")
        n = len(roster)
        # Distributed DP and the clip indicator [from C#: SecAggWireClient.RunAsync, Open and OpenNoise].
        if setup.dp_noise_variance == 0 and (setup.dp_min_survivors != 0 or setup.dp_rounding_beta != 0):
            raise ValueError("the setup sets distributed-DP fields but no noise variance: refusing to send an unnoised "
                             "update it may treat as noised")
        if setup.dp_noise_variance and (not setup.unit_weight or setup.max_weight != 1):
            raise ValueError("a distributed-DP setup must use unit weight (max_weight 1): a client's sample count would "
                             "raise its sensitivity")
        if setup.dp_noise_variance and setup.clip_indicator:
            raise ValueError("the setup asks for both distributed-DP noise and the clip indicator; the two are not "
                             "combined (the indicator would be noised with the model's σ)")
        if setup.clip_indicator and (not setup.unit_weight or setup.clip_indicator_index != setup.dimension - 1):
            raise ValueError(f"the clip indicator needs unit weights and the last coordinate (index {setup.dimension - 1}); "
                             f"the setup says unit_weight = {setup.unit_weight}, index {setup.clip_indicator_index}")
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
                     setup.max_weight, setup.max_clients, setup.unit_weight, setup.poll_interval_ms, roster.index(client_id),
                     setup.dp_noise_variance, setup.dp_rounding_beta, setup.dp_min_survivors, setup.clip_indicator,
                     setup.clip_indicator_index)

    @property
    def model_length(self) -> int:
        """The model's parameter count: the dimension less the weight coordinate (and the indicator, if any)."""
        return self.dimension - (2 if self.clip_indicator else 1)

    def dp_plan(self) -> DistributedDpPlan | None:
        """The distributed-DP plan rebuilt (and checked) from the setup, or None without client noise. Raises
        ValueError for a setup the plan refuses (see DistributedDpPlan), e.g. a noisy sum that could wrap."""
        if not self.dp_noise_variance:
            return None
        return DistributedDpPlan(self.clip_range, self.scale, self.modulus_bits, self.max_clients, self.model_length,
                                 self.dp_noise_variance, self.dp_min_survivors, self.dp_rounding_beta)


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

    def _check_noise_survivors(self, count: int) -> None:
        """Distributed DP: a survivor list shorter than n_min would release a sum with less noise than calibrated
        (KLS 2021 counts n_min clients' noise); refuse to sign it or unmask it [from C#: TooFewForTheNoise]."""
        if self.setup.dp_noise_variance and count < self.setup.dp_min_survivors:
            raise self._abort(f"the server's survivor list has {count} clients, fewer than the "
                              f"{self.setup.dp_min_survivors} the distributed DP noise is calibrated for; refusing to "
                              "help release that sum")

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
        self._check_noise_survivors(len(survivors))
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
        self._check_noise_survivors(len(request.survivors))
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
                     vanish_before: str | None = None, log: Callable[[str], None] = lambda s: None,
                     random: RandomSource | None = None, min_noise_multiplier: float | None = None) -> SecureRoundResult:
    """Runs this client's part of the secure round of `task` with `delta` (trained − global, flattened in the model's
    tensor order) and its sample count. `vanish_before` ("share-keys", "masked-input", "consistency", "unmasking")
    makes the client stop silently before that stage's message (a dropout, for tests).

    `random` is the source of the quantizer's rounding and of the distributed-DP noise (default: the OS CSPRNG; a
    SeededRandomSource only to replay .NET vectors). `min_noise_multiplier` is this client's own floor on distributed
    DP (`confide client --dp-min-noise z`): it sits out a round whose z = √n_min·σ/Δ₂ is lower, or that has no client
    noise. A distributed-DP setup the client's own plan refuses (see DistributedDpPlan) also ends in "refused", without
    a message sent: the client sits the round out, as the .NET client does."""
    try:
        setup = Setup.from_proto(task.secure_aggregation, task.round, client.client_id)
    except ValueError as e:  # a setup this client will not run: it sits the round out rather than stop
        return SecureRoundResult("refused", f"the round's secure-aggregation setup is refused: {e}")
    if setup.model_length != len(delta):
        return SecureRoundResult("refused", f"the setup's dimension {setup.dimension} does not fit a model of {len(delta)} "
                                            f"parameters{' (with the clip indicator)' if setup.clip_indicator else ''}")
    source = random if random is not None else CryptoRandomSource()
    try:
        plan = setup.dp_plan()
    except ValueError as e:
        return SecureRoundResult("refused", f"the server's distributed-DP setup is invalid: {e}")
    if min_noise_multiplier is not None:
        if plan is None:
            return SecureRoundResult("refused", f"this client requires distributed DP noise of at least "
                                                f"z = {min_noise_multiplier:.4g}, and the round asks for none")
        if not plan.effective_noise_multiplier >= min_noise_multiplier:
            return SecureRoundResult("refused", f"the round's distributed noise is z = {plan.effective_noise_multiplier:.4g} "
                                                f"at {plan.min_survivors} survivors, below this client's floor of "
                                                f"{min_noise_multiplier:.4g}")
    values = [float(v) for v in delta]
    # The adaptive-clipping indicator (Andrew et al. 2021) is taken before clipping [from C#: FederatedParticipant.
    # SecureAggregateAsync]: ‖Δ‖ ≤ task.clip_norm when the server asks clients to clip, else ≤ clip_range.
    within_clip = math.sqrt(math.fsum(v * v for v in values)) <= (task.clip_norm if task.clip_norm > 0 else setup.clip_range)
    if task.clip_norm > 0:  # DP-FedAvg client clipping, as FederatedParticipant does before the secure round
        values = l2_clip_f32(values, task.clip_norm)
    if setup.unit_weight:  # DP: L2-clip to clip_range, weight 1
        values = l2_clip_f32(values, setup.clip_range)
        weight = 1
    else:
        weight = sample_count
    if not 1 <= weight <= setup.max_weight:
        raise ValueError(f"the weight {weight} is outside 1 … {setup.max_weight}")
    if plan is not None:  # distributed DP: conditional rounding, then N_Z(0, σ²) on every model coordinate
        try:
            x = plan.encode(values, noise_random(source, setup.round))
        except ValueError as e:
            return SecureRoundResult("refused", f"the update cannot be encoded for distributed DP: {e}")
    else:
        x = quantize(values, weight, setup.clip_range, setup.scale, setup.modulus_bits, source.next_bytes)
        if setup.clip_indicator:  # one more coordinate, unscaled (ClipIndicatorEncoding)
            x.append(1 if within_clip else 0)
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
