using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using Confide.Randomness;
using Confide.SecureAggregation;
using NSec.Cryptography;

namespace Confide.Protocol.SecureAggregation.Internal;

/// <summary>
/// The one place the protocol touches cryptographic primitives: key agreement, share encryption, Shamir sharing, pairwise
/// seeds, the mask PRG and the neighbour graph. Keeping it narrow lets the primitives change underneath without the state
/// machines noticing.
/// </summary>
internal static partial class SecAggCrypto
{
    /// <summary>Seeds, X25519 private keys and public keys are all 32 bytes.</summary>
    public const int SeedLength = 32;

    private static readonly byte[] ShareKeyLabel = "confide-secagg-v1/share-key"u8.ToArray();
    private static readonly byte[] PairwiseLabel = "confide-secagg-v1/pairwise-seed"u8.ToArray();

    /// <summary>Bytes of one encoded Shamir share of a 32-byte secret (<see cref="ShamirShare.ToBytes"/>).</summary>
    public static readonly int ShareLength = ShamirShare.HeaderSize + (8 * ShamirSecretSharing.ChunkCount(SeedLength));

    /// <summary>Shamir-shares a 32-byte secret over GF(2^61 − 1), giving holder h the share at x = h + 1.</summary>
    public static byte[][] Split(ReadOnlySpan<byte> secret, IReadOnlyList<int> holders, int threshold, IRandomSource random)
    {
        int[] xs = holders.Select(h => h + 1).ToArray();
        ShamirShare[] shares = new ShamirSecretSharing(threshold, random).Split(secret, xs);
        var encoded = new byte[shares.Length][];
        for (int i = 0; i < shares.Length; i++)
        {
            encoded[i] = shares[i].ToBytes();
            shares[i].Dispose();
        }

        return encoded;
    }

    /// <summary>
    /// Reconstructs a 32-byte secret from shares revealed by <paramref name="holders"/>. It uses the t + 1 lowest holder ids
    /// (the extra share is checked for consistency), so many secrets share one set of x's and its cached Lagrange basis.
    /// </summary>
    /// <exception cref="CryptographicException">A share is malformed, claims another holder's x, or the shares are inconsistent.</exception>
    public static byte[] Combine(ShamirSecretSharing sharing, IReadOnlyList<int> holders, IReadOnlyList<byte[]> shares)
    {
        int[] order = Enumerable.Range(0, holders.Count).OrderBy(i => holders[i]).Take(sharing.Threshold + 1).ToArray();
        var parsed = new List<ShamirShare>(order.Length);
        try
        {
            foreach (int i in order)
            {
                ShamirShare share = ShamirShare.FromBytes(shares[i]);
                parsed.Add(share);
                if (share.X != holders[i] + 1 || share.SecretLength != SeedLength)
                {
                    throw new CryptographicException($"The share revealed by client {holders[i]} is for x = {share.X} and a {share.SecretLength}-byte secret; expected x = {holders[i] + 1} and {SeedLength} bytes.");
                }
            }

            return sharing.Reconstruct(parsed);
        }
        finally
        {
            foreach (ShamirShare share in parsed)
            {
                share.Dispose();
            }
        }
    }

    /// <summary>Adds (or subtracts) PRG(seed) into <paramref name="accumulator"/> mod 2^k: <see cref="MaskPrg"/>, AES-128-CTR.</summary>
    public static void AccumulateMask(ReadOnlySpan<byte> seed, Span<ulong> accumulator, int modulusBits, bool subtract)
    {
        if (subtract)
        {
            MaskPrg.SubtractMask(seed, accumulator, modulusBits);
        }
        else
        {
            MaskPrg.AddMask(seed, accumulator, modulusBits);
        }
    }

    /// <summary>An X25519 private key from 32 bytes drawn by the caller's random source.</summary>
    public static Key ImportAgreementKey(ReadOnlySpan<byte> raw) =>
        Key.Import(KeyAgreementAlgorithm.X25519, raw, KeyBlobFormat.RawPrivateKey, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.None });

    public static bool TryImportAgreementPublicKey(ReadOnlySpan<byte> raw, [NotNullWhen(true)] out PublicKey? key) =>
        PublicKey.TryImport(KeyAgreementAlgorithm.X25519, raw, KeyBlobFormat.RawPublicKey, out key);

    /// <summary>
    /// s_uv: X25519(s_u^SK, s_v^PK) through HKDF-SHA-256 with the session context as salt and the ordered pair as info,
    /// so the same key pair yields unrelated seeds in another session, round or pair.
    /// </summary>
    public static void PairwiseSeed(Key maskKey, PublicKey peerMaskKey, SecAggBinding binding, int u, int v, Span<byte> seed)
    {
        Span<byte> info = stackalloc byte[PairwiseLabel.Length + 8];
        PairwiseLabel.CopyTo(info);
        BinaryPrimitives.WriteInt32LittleEndian(info[PairwiseLabel.Length..], Math.Min(u, v));
        BinaryPrimitives.WriteInt32LittleEndian(info[(PairwiseLabel.Length + 4)..], Math.Max(u, v));
        Derive(maskKey, peerMaskKey, binding.Context, info, seed);
    }

    /// <summary>
    /// Encrypts a share bundle with AES-256-GCM under HKDF(X25519(c_u^SK, c_v^PK)); the HKDF salt and info and the
    /// associated data all bind the session, round, sender and receiver. Output: nonce ‖ ciphertext ‖ tag.
    /// </summary>
    public static byte[] EncryptShareBundle(Key cipherKey, PublicKey peerCipherKey, SecAggBinding binding, int sender, int receiver, ReadOnlySpan<byte> plaintext, IRandomSource random)
    {
        byte[] associated = ShareBinding(binding, sender, receiver);
        Span<byte> key = stackalloc byte[32];
        try
        {
            Derive(cipherKey, peerCipherKey, binding.Context, associated, key);
            byte[] output = new byte[AesGcm.NonceByteSizes.MaxSize + plaintext.Length + AesGcm.TagByteSizes.MaxSize];
            Span<byte> nonce = output.AsSpan(0, AesGcm.NonceByteSizes.MaxSize);
            random.NextBytes(nonce);
            using var aead = new AesGcm(key, AesGcm.TagByteSizes.MaxSize);
            aead.Encrypt(nonce, plaintext, output.AsSpan(nonce.Length, plaintext.Length), output.AsSpan(nonce.Length + plaintext.Length), associated);
            return output;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }
    }

    public static bool TryDecryptShareBundle(Key cipherKey, PublicKey peerCipherKey, SecAggBinding binding, int sender, int receiver, byte[]? ciphertext, [NotNullWhen(true)] out byte[]? plaintext)
    {
        plaintext = null;
        int overhead = AesGcm.NonceByteSizes.MaxSize + AesGcm.TagByteSizes.MaxSize;
        if (ciphertext is null || ciphertext.Length < overhead)
        {
            return false;
        }

        byte[] associated = ShareBinding(binding, sender, receiver);
        Span<byte> key = stackalloc byte[32];
        try
        {
            Derive(cipherKey, peerCipherKey, binding.Context, associated, key);
            int length = ciphertext.Length - overhead;
            byte[] output = new byte[length];
            using var aead = new AesGcm(key, AesGcm.TagByteSizes.MaxSize);
            try
            {
                aead.Decrypt(ciphertext.AsSpan(0, AesGcm.NonceByteSizes.MaxSize), ciphertext.AsSpan(AesGcm.NonceByteSizes.MaxSize, length),
                    ciphertext.AsSpan(AesGcm.NonceByteSizes.MaxSize + length), output, associated);
            }
            catch (AuthenticationTagMismatchException)
            {
                return false;
            }

            plaintext = output;
            return true;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }
    }

    private static byte[] ShareBinding(SecAggBinding binding, int sender, int receiver)
    {
        byte[] bound = new byte[ShareKeyLabel.Length + binding.Context.Length + 8];
        ShareKeyLabel.CopyTo(bound, 0);
        binding.Context.CopyTo(bound, ShareKeyLabel.Length);
        BinaryPrimitives.WriteInt32LittleEndian(bound.AsSpan(ShareKeyLabel.Length + binding.Context.Length), sender);
        BinaryPrimitives.WriteInt32LittleEndian(bound.AsSpan(ShareKeyLabel.Length + binding.Context.Length + 4), receiver);
        return bound;
    }

    private static void Derive(Key privateKey, PublicKey peer, ReadOnlySpan<byte> salt, ReadOnlySpan<byte> info, Span<byte> output)
    {
        using SharedSecret? secret = KeyAgreementAlgorithm.X25519.Agree(privateKey, peer)
            ?? throw new CryptographicException("X25519 agreement produced the all-zero secret: the peer's public key has small order.");
        KeyDerivationAlgorithm.HkdfSha256.DeriveBytes(secret, salt, info, output);
    }
}
