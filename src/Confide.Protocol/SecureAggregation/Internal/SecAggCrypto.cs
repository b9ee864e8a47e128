using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using Confide.Randomness;
using Confide.SecureAggregation;

namespace Confide.Protocol.SecureAggregation.Internal;

/// <summary>
/// The one place the protocol touches the primitives of <c>Confide.SecureAggregation</c>: key agreement, share encryption,
/// Shamir sharing, pairwise seeds, the mask PRG and the neighbour graph. Keeping it narrow lets the primitives change
/// underneath without the state machines noticing.
/// </summary>
/// <remarks>
/// Masks for k ≤ 32 are expanded with 32-bit words (half the keystream of 64-bit words); every party applies the same
/// rule, <see cref="UsesNarrowWords"/>, so the masks still cancel.
/// </remarks>
internal static class SecAggCrypto
{
    /// <summary>Seeds and X25519 private keys are 32 bytes.</summary>
    public const int SeedLength = MaskPrg.SeedSize;

    /// <summary>Bytes of one encoded Shamir share of a 32-byte secret (<see cref="ShamirShare.ToBytes"/>).</summary>
    public static readonly int ShareLength = ShamirShare.HeaderSize + (8 * ShamirSecretSharing.ChunkCount(SeedLength));

    /// <summary>True when masks are expanded into 32-bit words (k ≤ 32).</summary>
    public static bool UsesNarrowWords(int modulusBits) => modulusBits <= 32;

    public static bool TryImportAgreementPublicKey(byte[]? raw, [NotNullWhen(true)] out AgreementPublicKey? key)
    {
        key = null;
        if (raw is null || raw.Length != AgreementPublicKey.Size)
        {
            return false;
        }

        try
        {
            key = AgreementPublicKey.FromBytes(raw);
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

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
    /// Reconstructs a 32-byte secret from t + 1 of the shares revealed by <paramref name="holders"/> (the extra share is
    /// checked for consistency). It takes the first of <paramref name="preferred"/> holder sets that it has completely, else
    /// the t + 1 lowest holder ids, so that many secrets share one set of x's and its cached Lagrange basis.
    /// </summary>
    /// <exception cref="CryptographicException">A share is malformed, claims another holder's x, or the shares are inconsistent.</exception>
    public static byte[] Combine(ShamirSecretSharing sharing, IReadOnlyList<int> holders, IReadOnlyList<byte[]> shares, IReadOnlyList<int[]> preferred)
    {
        int[] order = Choose(holders, sharing.Threshold + 1, preferred);
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
        catch (ArgumentException ex)
        {
            throw new CryptographicException($"A revealed share is malformed: {ex.Message}", ex);
        }
        finally
        {
            foreach (ShamirShare share in parsed)
            {
                share.Dispose();
            }
        }
    }

    private static int[] Choose(IReadOnlyList<int> holders, int count, IReadOnlyList<int[]> preferred)
    {
        var index = new Dictionary<int, int>(holders.Count);
        for (int i = 0; i < holders.Count; i++)
        {
            index[holders[i]] = i;
        }

        foreach (int[] set in preferred)
        {
            if (set.Length == count && set.All(index.ContainsKey))
            {
                return set.Select(h => index[h]).ToArray();
            }
        }

        return Enumerable.Range(0, holders.Count).OrderBy(i => holders[i]).Take(count).ToArray();
    }

    /// <summary>Adds (or subtracts) PRG(seed) into a 64-bit accumulator mod 2^k.</summary>
    public static void SelfMask(ReadOnlySpan<byte> seed, Span<ulong> accumulator, int modulusBits, bool subtract)
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

    /// <summary>Adds (or subtracts) PRG(seed) into a 32-bit accumulator mod 2^k.</summary>
    public static void SelfMask(ReadOnlySpan<byte> seed, Span<uint> accumulator, int modulusBits, bool subtract)
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

    /// <summary>Widens a 32-bit accumulator into the 64-bit message vector.</summary>
    public static ulong[] Widen(ReadOnlySpan<uint> values)
    {
        var wide = new ulong[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            wide[i] = values[i];
        }

        return wide;
    }

    /// <summary>The SecAgg+ graph (Bell et al. 2020): a Harary graph over a seeded ordering, or the complete graph when k = n − 1.</summary>
    public static int[][] NeighbourGraph(int n, int k, ReadOnlySpan<byte> seed)
    {
        Confide.SecureAggregation.NeighbourGraph graph = k == n - 1
            ? Confide.SecureAggregation.NeighbourGraph.Complete(n)
            : Confide.SecureAggregation.NeighbourGraph.Harary(n, k, seed);
        var neighbours = new int[n][];
        for (int u = 0; u < n; u++)
        {
            neighbours[u] = graph.Neighbours(u).ToArray();
        }

        return neighbours;
    }

    /// <summary>The <see cref="SecAggContext"/> for a session: SHA-256 of the UTF-8 session id (always 32 bytes) and the round.</summary>
    public static SecAggContext Context(string sessionId, long round) =>
        new(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(sessionId)), round);
}
