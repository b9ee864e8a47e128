using System.Collections.Concurrent;
using System.Security.Cryptography;
using Confide.Randomness;
using Confide.SecureAggregation;
using NSec.Cryptography;

namespace Confide.Protocol.SecureAggregation.Internal;

/// <summary>
/// The server's last step (Bonawitz et al. 2017, Figure 4, round 4): z = Σ_{u∈U3} y_u − Σ_{u∈U3} PRG(b_u)
/// − Σ_{v∈U2∖U3} Σ_{u∈N(v)∩U3} ±PRG(s_uv) mod 2^k, with b_u and s_v^SK reconstructed from t revealed shares each.
/// Mask expansion is spread over the cores with one accumulator per worker.
/// </summary>
internal static class SecAggUnmasker
{
    public static SecAggResult Recover(
        SecAggSession session,
        IRandomSource random,
        int[] survivors,
        ulong[]?[] masked,
        bool[] shared,
        AdvertiseKeysMessage?[] keys,
        UnmaskingResponseMessage?[] responses,
        int[] counts)
    {
        SecAggOptions options = session.Options;
        int n = options.ClientCount;
        int t = options.Threshold;
        var selfShares = new List<(int Holder, byte[] Share)>?[n];
        var keyShares = new List<(int Holder, byte[] Share)>?[n];
        for (int holder = 0; holder < n; holder++)
        {
            UnmaskingResponseMessage? response = responses[holder];
            if (response is null)
            {
                continue;
            }

            foreach (RevealedShare s in response.SelfMaskShares)
            {
                (selfShares[s.Owner] ??= []).Add((holder, s.Share));
            }

            foreach (RevealedShare s in response.MaskKeyShares)
            {
                (keyShares[s.Owner] ??= []).Add((holder, s.Share));
            }
        }

        bool[] isSurvivor = new bool[n];
        foreach (int u in survivors)
        {
            isSurvivor[u] = true;
        }

        // One job per mask to remove: each survivor's self mask, each dropped client's pairwise masks.
        var jobs = new List<int>();
        jobs.AddRange(survivors);
        for (int v = 0; v < n; v++)
        {
            if (shared[v] && !isSurvivor[v] && session.NeighbourArray(v).Any(u => isSurvivor[u]))
            {
                jobs.Add(v);
            }
        }

        int d = options.Dimension;
        int bits = options.ModulusBits;
        ulong modMask = options.ModulusMask;
        var partials = new ConcurrentBag<ulong[]>();
        long streams = 0;
        try
        {
            RemoveMasks();
        }
        catch (AggregateException ex) when (ex.InnerExceptions.OfType<SecAggProtocolException>().FirstOrDefault() is { } first)
        {
            throw first;
        }

        void RemoveMasks() => Parallel.ForEach(
            System.Collections.Concurrent.Partitioner.Create(0, jobs.Count, 1),
            () => (Acc: new ulong[d], Sharing: new ShamirSecretSharing(t, random.Fork((ulong)Interlocked.Increment(ref streams)))),
            (range, _, local) =>
            {
                (ulong[] acc, ShamirSecretSharing sharing) = local;
                for (int j = range.Item1; j < range.Item2; j++)
                {
                    int owner = jobs[j];
                    if (isSurvivor[owner])
                    {
                        byte[] seed = Reconstruct(sharing, selfShares[owner], SecAggStage.Unmasking, owner, "self-mask seed");
                        SecAggCrypto.AccumulateMask(seed, acc, bits, subtract: true);
                        CryptographicOperations.ZeroMemory(seed);
                    }
                    else
                    {
                        RemovePairwiseMasks(session, owner, Reconstruct(sharing, keyShares[owner], SecAggStage.Unmasking, owner, "mask private key"), isSurvivor, keys, acc, bits);
                    }
                }

                return local;
            },
            local => partials.Add(local.Acc));

        ulong[] sum = new ulong[d];
        unchecked
        {
            foreach (int u in survivors)
            {
                ulong[] y = masked[u]!;
                for (int i = 0; i < d; i++)
                {
                    sum[i] += y[i];
                }
            }

            foreach (ulong[] partial in partials)
            {
                for (int i = 0; i < d; i++)
                {
                    sum[i] += partial[i];
                }
            }

            for (int i = 0; i < d; i++)
            {
                sum[i] &= modMask;
            }
        }

        return new SecAggResult(sum, survivors, counts.ToArray());
    }

    private static void RemovePairwiseMasks(SecAggSession session, int v, byte[] rawKey, bool[] isSurvivor, AdvertiseKeysMessage?[] keys, ulong[] acc, int bits)
    {
        try
        {
            using Key maskKey = SecAggCrypto.ImportAgreementKey(rawKey);
            if (!maskKey.PublicKey.Export(KeyBlobFormat.RawPublicKey).AsSpan().SequenceEqual(keys[v]!.MaskPublicKey))
            {
                throw new SecAggInvalidMessageException(SecAggStage.Unmasking,
                    $"The mask private key reconstructed for dropped client {v} does not match the public key it advertised: some revealed share is wrong.");
            }

            Span<byte> seed = stackalloc byte[SecAggCrypto.SeedLength];
            foreach (int u in session.NeighbourArray(v))
            {
                if (!isSurvivor[u])
                {
                    continue;
                }

                SecAggCrypto.TryImportAgreementPublicKey(keys[u]!.MaskPublicKey, out PublicKey? peer);
                SecAggCrypto.PairwiseSeed(maskKey, peer!, session.Binding, v, u, seed);

                // Survivor u added PRG(s_uv) when u < v and subtracted it when u > v; undo that.
                SecAggCrypto.AccumulateMask(seed, acc, bits, subtract: u < v);
            }

            CryptographicOperations.ZeroMemory(seed);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(rawKey);
        }
    }

    private static byte[] Reconstruct(ShamirSecretSharing sharing, List<(int Holder, byte[] Share)>? shares, SecAggStage stage, int owner, string what)
    {
        int t = sharing.Threshold;
        int count = shares?.Count ?? 0;
        if (count < t)
        {
            throw new SecAggInsufficientSurvivorsException(stage, count, t,
                $"Stage Unmasking: {count} shares of the {what} of client {owner} were revealed; t = {t} are needed.");
        }

        try
        {
            return SecAggCrypto.Combine(sharing, shares!.Select(s => s.Holder).ToArray(), shares!.Select(s => s.Share).ToArray());
        }
        catch (CryptographicException ex)
        {
            throw new SecAggInvalidMessageException(stage, $"The revealed shares of the {what} of client {owner} are inconsistent: {ex.Message}");
        }
    }
}
