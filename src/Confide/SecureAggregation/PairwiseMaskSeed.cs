using System.Security.Cryptography;
using Confide.SecureAggregation.Internal;

namespace Confide.SecureAggregation;

/// <summary>
/// The pairwise mask seed s_uv of Bonawitz et al., CCS 2017 (section 4): both u and v derive the same 32 bytes from
/// X25519(s_u^SK, s_v^PK) = X25519(s_v^SK, s_u^PK), and u adds PRG(s_uv) while v subtracts it, so the masks cancel in
/// the sum. The server can derive it too, for a dropped u, once it has reconstructed s_u^SK from Shamir shares.
/// </summary>
/// <remarks>
/// s_uv = HKDF-SHA256(ikm = X25519 shared secret, salt = session id,
/// info = "Confide/SecAgg/pairwise-mask-seed/v1" ‖ session id ‖ round ‖ min(u, v) ‖ max(u, v) ‖ pk_min ‖ pk_max), 32 bytes.
/// Ordering the pair by id makes the derivation symmetric; binding session, round and both public keys makes every
/// seed single-use. Sign convention (<see cref="MaskSign"/>): the smaller id adds, the larger subtracts.
/// </remarks>
public static class PairwiseMaskSeed
{
    /// <summary>The seed length: <see cref="MaskPrg.SeedSize"/> bytes.</summary>
    public const int Size = MaskPrg.SeedSize;

    /// <summary>Derives s_uv into <paramref name="seed"/> (32 bytes).</summary>
    /// <param name="own">This party's mask key pair (or, on the server, the key pair reconstructed for a dropped party).</param>
    /// <param name="ownId">This party's id (non-negative).</param>
    /// <param name="peer">The other party's advertised mask public key.</param>
    /// <param name="peerId">The other party's id (non-negative, different).</param>
    /// <param name="context">Session and round.</param>
    /// <param name="seed">Receives the 32-byte seed.</param>
    /// <exception cref="CryptographicException">The peer's public key is a low-order point (the shared secret would be all zeros).</exception>
    public static void Derive(AgreementKeyPair own, int ownId, AgreementPublicKey peer, int peerId, SecAggContext context, Span<byte> seed)
    {
        ArgumentNullException.ThrowIfNull(own);
        ArgumentNullException.ThrowIfNull(peer);
        ArgumentNullException.ThrowIfNull(context);
        ArgumentOutOfRangeException.ThrowIfNegative(ownId);
        ArgumentOutOfRangeException.ThrowIfNegative(peerId);
        if (ownId == peerId)
        {
            throw new ArgumentException($"A pairwise seed needs two different parties; both ids are {ownId}.", nameof(peerId));
        }

        if (seed.Length != Size)
        {
            throw new ArgumentException($"The seed destination must be {Size} bytes; got {seed.Length}.", nameof(seed));
        }

        bool ownFirst = ownId < peerId;
        byte[] ownPublic = own.PublicKey.ToBytes();
        byte[] peerPublic = peer.ToBytes();
        byte[] info = ownFirst
            ? Binding.Encode("Confide/SecAgg/pairwise-mask-seed/v1", context, [ownId, peerId], ownPublic, peerPublic)
            : Binding.Encode("Confide/SecAgg/pairwise-mask-seed/v1", context, [peerId, ownId], peerPublic, ownPublic);
        Span<byte> shared = stackalloc byte[KeyAgreement.SharedSecretSize];
        try
        {
            KeyAgreement.Agree(own, peer, shared);
            HKDF.DeriveKey(HashAlgorithmName.SHA256, shared, seed, context.SessionId, info);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(shared);
        }
    }

    /// <summary>+1 if <paramref name="ownId"/> adds PRG(s_uv) (it is the smaller id), −1 if it subtracts.</summary>
    public static int MaskSign(int ownId, int peerId)
    {
        if (ownId == peerId)
        {
            throw new ArgumentException($"A pairwise mask needs two different parties; both ids are {ownId}.", nameof(peerId));
        }

        return ownId < peerId ? 1 : -1;
    }

    /// <summary>Applies PRG(s_uv) to <paramref name="accumulator"/> with the sign of <see cref="MaskSign"/>, mod 2^k.</summary>
    public static void Apply(ReadOnlySpan<byte> seed, int ownId, int peerId, Span<ulong> accumulator, int modulusBits)
    {
        if (MaskSign(ownId, peerId) > 0)
        {
            MaskPrg.AddMask(seed, accumulator, modulusBits);
        }
        else
        {
            MaskPrg.SubtractMask(seed, accumulator, modulusBits);
        }
    }

    /// <summary>32-bit variant of <see cref="Apply(ReadOnlySpan{byte}, int, int, Span{ulong}, int)"/>.</summary>
    public static void Apply(ReadOnlySpan<byte> seed, int ownId, int peerId, Span<uint> accumulator, int modulusBits)
    {
        if (MaskSign(ownId, peerId) > 0)
        {
            MaskPrg.AddMask(seed, accumulator, modulusBits);
        }
        else
        {
            MaskPrg.SubtractMask(seed, accumulator, modulusBits);
        }
    }
}
