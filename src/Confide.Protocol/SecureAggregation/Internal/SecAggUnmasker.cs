using System.Collections.Concurrent;
using System.Security.Cryptography;
using Confide.Randomness;
using Confide.SecureAggregation;

namespace Confide.Protocol.SecureAggregation.Internal;

/// <summary>
/// The server's last step (Bonawitz et al. 2017, Figure 4, round 4): z = Σ_{u∈U3} y_u − Σ_{u∈U3} PRG(b_u)
/// − Σ_{v∈U2∖U3} Σ_{u∈N(v)∩U3} ±PRG(s_uv) mod 2^k, with b_u and s_v^SK reconstructed from revealed shares.
/// Mask removal is spread over the cores with one accumulator (and one Shamir instance) per worker.
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

        // One job per mask source: each survivor's self mask, each dropped client's pairwise masks with surviving neighbours.
        var jobs = new List<int>(survivors);
        for (int v = 0; v < n; v++)
        {
            if (shared[v] && !isSurvivor[v] && session.NeighbourArray(v).Any(u => isSurvivor[u]))
            {
                jobs.Add(v);
            }
        }

        int d = options.Dimension;
        int bits = options.ModulusBits;
        bool narrow = SecAggCrypto.UsesNarrowWords(bits);
        var partials = new ConcurrentBag<Array>();
        long streams = 0;
        try
        {
            Parallel.ForEach(
                Partitioner.Create(0, jobs.Count, 1),
                () => new Worker(narrow ? new uint[d] : null, narrow ? null : new ulong[d], new ShamirSecretSharing(t, random.Fork((ulong)Interlocked.Increment(ref streams)))),
                (range, _, worker) =>
                {
                    for (int j = range.Item1; j < range.Item2; j++)
                    {
                        int owner = jobs[j];
                        if (isSurvivor[owner])
                        {
                            byte[] seed = Reconstruct(worker.Sharing, selfShares[owner], owner, "self-mask seed");
                            if (worker.Narrow is not null)
                            {
                                SecAggCrypto.SelfMask(seed, worker.Narrow, bits, subtract: true);
                            }
                            else
                            {
                                SecAggCrypto.SelfMask(seed, worker.Wide!, bits, subtract: true);
                            }

                            CryptographicOperations.ZeroMemory(seed);
                        }
                        else
                        {
                            byte[] raw = Reconstruct(worker.Sharing, keyShares[owner], owner, "mask private key");
                            RemovePairwiseMasks(session, owner, raw, isSurvivor, keys, worker, bits);
                        }
                    }

                    return worker;
                },
                worker => partials.Add((Array?)worker.Narrow ?? worker.Wide!));
        }
        catch (AggregateException ex) when (ex.InnerExceptions.OfType<SecAggProtocolException>().FirstOrDefault() is { } first)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(first);
        }

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

            foreach (Array partial in partials)
            {
                if (partial is uint[] p32)
                {
                    for (int i = 0; i < d; i++)
                    {
                        sum[i] += p32[i];
                    }
                }
                else
                {
                    ulong[] p64 = (ulong[])partial;
                    for (int i = 0; i < d; i++)
                    {
                        sum[i] += p64[i];
                    }
                }
            }

            ulong modMask = options.ModulusMask;
            for (int i = 0; i < d; i++)
            {
                sum[i] &= modMask;
            }
        }

        return new SecAggResult(sum, survivors, counts.ToArray());
    }

    private static void RemovePairwiseMasks(SecAggSession session, int v, byte[] raw, bool[] isSurvivor, AdvertiseKeysMessage?[] keys, Worker worker, int bits)
    {
        Span<byte> seed = stackalloc byte[SecAggCrypto.SeedLength];
        try
        {
            using AgreementKeyPair maskKey = AgreementKeyPair.Import(raw);
            if (!maskKey.PublicKey.ToBytes().AsSpan().SequenceEqual(keys[v]!.MaskPublicKey))
            {
                throw new SecAggInvalidMessageException(SecAggStage.Unmasking,
                    $"The mask private key reconstructed for dropped client {v} does not match the public key it advertised: some revealed share is wrong.");
            }

            foreach (int u in session.NeighbourArray(v))
            {
                if (!isSurvivor[u])
                {
                    continue;
                }

                var peer = AgreementPublicKey.FromBytes(keys[u]!.MaskPublicKey);
                PairwiseMaskSeed.Derive(maskKey, v, peer, u, session.Binding.Crypto, seed);

                // Survivor u applied ±PRG(s_uv) with its own sign; applying it with v's sign (the opposite) removes it.
                if (worker.Narrow is not null)
                {
                    PairwiseMaskSeed.Apply(seed, v, u, worker.Narrow, bits);
                }
                else
                {
                    PairwiseMaskSeed.Apply(seed, v, u, worker.Wide!, bits);
                }
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(seed);
            CryptographicOperations.ZeroMemory(raw);
        }
    }

    private static byte[] Reconstruct(ShamirSecretSharing sharing, List<(int Holder, byte[] Share)>? shares, int owner, string what)
    {
        int t = sharing.Threshold;
        int count = shares?.Count ?? 0;
        if (count < t)
        {
            throw new SecAggInsufficientSurvivorsException(SecAggStage.Unmasking, count, t,
                $"Stage Unmasking: {count} shares of the {what} of client {owner} were revealed; t = {t} are needed.");
        }

        try
        {
            return SecAggCrypto.Combine(sharing, shares!.Select(s => s.Holder).ToArray(), shares!.Select(s => s.Share).ToArray());
        }
        catch (CryptographicException ex)
        {
            throw new SecAggInvalidMessageException(SecAggStage.Unmasking, $"The revealed shares of the {what} of client {owner} are inconsistent: {ex.Message}");
        }
    }

    private sealed record Worker(uint[]? Narrow, ulong[]? Wide, ShamirSecretSharing Sharing);
}
