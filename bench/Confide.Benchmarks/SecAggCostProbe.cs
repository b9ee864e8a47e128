using System.Diagnostics;
using Confide.Randomness;
using Confide.SecureAggregation;
using Confide.SecureAggregation.Internal;
using NSec.Cryptography;

namespace Confide.Benchmarks;

/// <summary>
/// Per-operation CPU cost of a secure-aggregation client (Bonawitz et al. 2017), measured on one thread with the process
/// CPU clock (best of five batches), so that other processes loading the machine do not inflate it the way they inflate
/// wall time; then the full-graph per-client total at n = 500, D = 100,000 from the operation counts.
/// Run: dotnet run -c Release --project bench/Confide.Benchmarks -- secagg-costs
/// </summary>
internal static class SecAggCostProbe
{
    public static int Run()
    {
        var random = new SeededRandomSource(7);
        var context = new SecAggContext(new byte[32], 1);
        using var u = AgreementKeyPair.Generate(random);
        using var v = AgreementKeyPair.Generate(random);
        using var identity = IdentityKeyPair.Generate(random);
        byte[] message = new byte[160];
        byte[] signature = identity.Sign("secagg-advertise-keys", message);
        byte[] shared = new byte[32];
        byte[] seed = new byte[32];
        byte[] key = new byte[32];
        byte[] info = new byte[150];
        byte[] bundle = new byte[112];
        uint[] mask = new uint[100_000];
        using var channel = ShareChannel.Establish(u, 1, v.PublicKey, 2, context);
        using var peerChannel = ShareChannel.Establish(v, 2, u.PublicKey, 1, context);
        byte[] sealedShare = channel.Encrypt(bundle, random);
        var sharing = new ShamirSecretSharing(250, random.Fork(1));
        int[] holders = Enumerable.Range(1, 500).ToArray();

        double agree = Cost("X25519, direct libsodium call (KeyAgreement.Agree)", 4000, () => KeyAgreement.Agree(u, v.PublicKey, shared));
        double nsecAgree = Cost("X25519 through NSec Agree + dispose (before)", 2000, () =>
        {
            using SharedSecret? s = KeyAgreementAlgorithm.X25519.Agree(u.Key, v.PublicKey.Key);
        });
        double nsecAgreeHkdf = Cost("NSec Agree + NSec HKDF-SHA256 (before, per agreement)", 2000, () =>
        {
            using SharedSecret s = KeyAgreementAlgorithm.X25519.Agree(u.Key, v.PublicKey.Key)!;
            KeyDerivationAlgorithm.HkdfSha256.DeriveBytes(s, context.SessionId, info, key);
        });
        double channelCost = Cost("ShareChannel.Establish (1 X25519, 2 HKDF)", 4000, () => ShareChannel.Establish(u, 1, v.PublicKey, 2, context).Dispose());
        double pairwise = Cost("PairwiseMaskSeed.Derive (1 X25519, 1 HKDF)", 4000, () => PairwiseMaskSeed.Derive(u, 1, v.PublicKey, 2, context, seed));
        double verify = Cost("Ed25519 verify, 160-byte payload", 4000, () => identity.PublicKey.Verify("secagg-advertise-keys", message, signature));
        double seal = Cost("AES-256-GCM seal of a share bundle (new AesGcm each)", 40000, () => channel.Encrypt(bundle, random));
        double open = Cost("AES-256-GCM open of a share bundle", 40000, () => peerChannel.Decrypt(sealedShare));
        double expand = Cost("mask expansion, D = 100,000 uint words from a seed", 1000, () => MaskPrg.AddMask(seed, mask.AsSpan(), 32));
        double split = Cost("Shamir split, 32-byte secret, t = 250, 500 holders", 40, () => sharing.Split(seed, holders));

        const int peers = 499;
        double after = (peers * (channelCost + pairwise + (2 * verify) + seal + open)) + ((peers + 1) * expand) + (2 * split);
        // Before: three agreements per neighbour (encrypt, decrypt, pairwise seed), each through NSec with its HKDF.
        double before = (peers * ((3 * nsecAgreeHkdf) + (2 * verify) + seal + open)) + ((peers + 1) * expand) + (2 * split);
        Console.WriteLine();
        Console.WriteLine($"full graph, n = 500, D = 100,000, per client (sum of the above × counts, one core):");
        Console.WriteLine($"  now:    {peers} × (channel + seed + 2 verify + seal + open) + 500 masks + 2 splits = {after / 1000:F1} ms CPU");
        Console.WriteLine($"  before: {peers} × (3 NSec agree+HKDF + 2 verify + seal + open) + 500 masks + 2 splits = {before / 1000:F1} ms CPU (the Shamir split was also ~1.5× slower then)");
        Console.WriteLine($"  of which Ed25519 verification {2 * peers * verify / 1000:F1} ms, X25519 {2 * peers * agree / 1000:F1} ms (was {3 * peers * nsecAgree / 1000:F1} ms), masks {(peers + 1) * expand / 1000:F1} ms");
        return 0;
    }

    private static double Cost(string name, int count, Action action)
    {
        using var process = Process.GetCurrentProcess();
        for (int i = 0; i < Math.Min(count, 100); i++)
        {
            action();
        }

        double best = double.MaxValue;
        for (int batch = 0; batch < 5; batch++)
        {
            process.Refresh();
            TimeSpan start = process.TotalProcessorTime;
            for (int i = 0; i < count; i++)
            {
                action();
            }

            process.Refresh();
            best = Math.Min(best, (process.TotalProcessorTime - start).TotalMicroseconds / count);
        }

        Console.WriteLine($"{name,-58} {best,10:F2} µs CPU");
        return best;
    }
}
