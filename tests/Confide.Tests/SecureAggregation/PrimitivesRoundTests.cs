using Confide.Randomness;
using Confide.SecureAggregation;
using CsCheck;

namespace Confide.Tests.SecureAggregation;

/// <summary>
/// The primitives composed into one Bonawitz round without the protocol's state machines: double masking, shares of
/// b_u and s_u^SK sent encrypted to neighbours, dropouts after ShareKeys, and the server's unmasking.
/// </summary>
public sealed class PrimitivesRoundTests
{
    private const int K = 32;
    private const ulong ModMask = 0xFFFF_FFFFUL;

    [Fact]
    public void TheServerRecoversExactlyTheSurvivorsSumDespiteDropouts()
    {
        Gen.Select(Gen.Int[3, 12], Gen.Bool, Gen.ULong).Sample((n, fullGraph, seed) =>
        {
            IRandomSource rng = new SeededRandomSource(seed);
            var graphSeed = new byte[32];
            rng.NextBytes(graphSeed);
            int degree = fullGraph ? n - 1 : Math.Max(2, (n - 1) & ~1);
            degree = Math.Min(degree, n - 1);
            if (degree % 2 == 1 && n % 2 == 1)
            {
                degree--;
            }

            var graph = fullGraph ? NeighbourGraph.Complete(n) : NeighbourGraph.Harary(n, degree, graphSeed);
            int t = (graph.Degree / 2) + 1;
            var context = new SecAggContext(graphSeed, round: 3);
            const int d = 257;

            var encKeys = Enumerable.Range(0, n).Select(_ => AgreementKeyPair.Generate(rng)).ToArray();
            var maskKeys = Enumerable.Range(0, n).Select(_ => AgreementKeyPair.Generate(rng)).ToArray();
            var selfSeeds = Enumerable.Range(0, n).Select(_ => { var b = new byte[32]; rng.NextBytes(b); return b; }).ToArray();
            var inputs = Enumerable.Range(0, n).Select(_ => Enumerable.Range(0, d).Select(_ => rng.NextUInt64() & ModMask).ToArray()).ToArray();

            // ShareKeys: u shares b_u and s_u^SK among its neighbours (x = id + 1), each share encrypted to its holder.
            // inbox[v][u] = the ciphertext u sent to v.
            var inbox = Enumerable.Range(0, n).Select(_ => new Dictionary<int, byte[]>()).ToArray();
            for (int u = 0; u < n; u++)
            {
                var holders = graph.Neighbours(u).ToArray();
                var sharing = new ShamirSecretSharing(t, rng);
                var maskKey = new byte[32];
                maskKeys[u].ExportPrivateKey(maskKey);
                var bShares = sharing.Split(selfSeeds[u], holders.Select(v => v + 1).ToArray());
                var sShares = sharing.Split(maskKey, holders.Select(v => v + 1).ToArray());
                for (int i = 0; i < holders.Length; i++)
                {
                    byte[] plaintext = [.. bShares[i].ToBytes(), .. sShares[i].ToBytes()];
                    inbox[holders[i]][u] = ShareEncryption.Encrypt(encKeys[u], u, encKeys[holders[i]].PublicKey, holders[i], context, plaintext, rng);
                }
            }

            // Drop clients after ShareKeys, keeping at least t survivors in every neighbourhood.
            var dropped = new HashSet<int>();
            foreach (int u in Enumerable.Range(0, n).OrderBy(_ => rng.NextUInt64()))
            {
                dropped.Add(u);
                bool ok = Enumerable.Range(0, n).All(w => graph.Neighbours(w).ToArray().Count(v => !dropped.Contains(v)) >= t)
                    && dropped.Count < n - 1 && rng.NextInt32(3) != 0;
                if (!ok)
                {
                    dropped.Remove(u);
                    break;
                }
            }

            var survivors = Enumerable.Range(0, n).Where(u => !dropped.Contains(u)).ToArray();

            // MaskedInputCollection: y_u = x_u + PRG(b_u) + Σ_v ±PRG(s_uv).
            var sum = new ulong[d];
            foreach (int u in survivors)
            {
                var y = (ulong[])inputs[u].Clone();
                MaskPrg.AddMask(selfSeeds[u], y.AsSpan(), K);
                foreach (int v in graph.Neighbours(u))
                {
                    var suv = new byte[32];
                    PairwiseMaskSeed.Derive(maskKeys[u], u, maskKeys[v].PublicKey, v, context, suv);
                    PairwiseMaskSeed.Apply(suv, u, v, y, K);
                }

                Assert.NotEqual(inputs[u], y);
                for (int i = 0; i < d; i++)
                {
                    sum[i] = (sum[i] + y[i]) & ModMask;
                }
            }

            // Unmasking: each survivor v decrypts what its neighbours sent and reveals b_u of survivors, s_u^SK of the dropped.
            var bSharesOf = Enumerable.Range(0, n).Select(_ => new List<ShamirShare>()).ToArray();
            var sSharesOf = Enumerable.Range(0, n).Select(_ => new List<ShamirShare>()).ToArray();
            foreach (int v in survivors)
            {
                foreach (var (u, ciphertext) in inbox[v])
                {
                    byte[] plaintext = ShareEncryption.Decrypt(encKeys[v], v, encKeys[u].PublicKey, u, context, ciphertext);
                    int half = plaintext.Length / 2;
                    if (dropped.Contains(u))
                    {
                        sSharesOf[u].Add(ShamirShare.FromBytes(plaintext.AsSpan(half)));
                    }
                    else
                    {
                        bSharesOf[u].Add(ShamirShare.FromBytes(plaintext.AsSpan(0, half)));
                    }
                }
            }

            var server = new ShamirSecretSharing(t, rng);
            foreach (int u in survivors)
            {
                MaskPrg.SubtractMask(server.Reconstruct(bSharesOf[u]), sum.AsSpan(), K);
            }

            foreach (int u in dropped)
            {
                using var rebuilt = AgreementKeyPair.Import(server.Reconstruct(sSharesOf[u]));
                foreach (int v in graph.Neighbours(u))
                {
                    if (!dropped.Contains(v))
                    {
                        // v applied MaskSign(v, u)·PRG(s_uv); adding u's side cancels it.
                        var suv = new byte[32];
                        PairwiseMaskSeed.Derive(rebuilt, u, maskKeys[v].PublicKey, v, context, suv);
                        PairwiseMaskSeed.Apply(suv, u, v, sum, K);
                    }
                }
            }

            var expected = new ulong[d];
            foreach (int u in survivors)
            {
                for (int i = 0; i < d; i++)
                {
                    expected[i] = (expected[i] + inputs[u][i]) & ModMask;
                }
            }

            Assert.Equal(expected, sum);
            foreach (var key in encKeys.Concat(maskKeys))
            {
                key.Dispose();
            }
        }, iter: 25);
    }
}
