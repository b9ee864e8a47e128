using System.Text;
using Confide.Privacy;

namespace Confide.Tests.Privacy;

public sealed class PrivacyLedgerDistributedTests
{
    private static DistributedDiscreteGaussianSteps Ddg(double q = 1, double sigma = 6000) =>
        DistributedDiscreteGaussian.ForQuantizedUpdates(1, 1 << 14, 500, Math.Exp(-0.5), sigma, 50, q);

    [Fact]
    public void DistributedReleasesComposeWithGaussianOnesInOneCurve()
    {
        var ledger = new PrivacyLedger(new PrivacyBudget(100, 1e-5));
        var gaussian = new PrivacyRelease(0, "dp-fedavg", 0.1, 1.2, 5);
        var distributed = new PrivacyRelease(5, "distributed-dp+secagg", Ddg(0.1));
        ledger.Charge(gaussian);
        ledger.Charge(distributed);

        var orders = RdpAccountant.DefaultOrders.ToArray();
        var expected = RdpAccountant.ComputeRdp([gaussian.Entry!], orders);
        var ddg = DistributedDiscreteGaussian.ComputeRdp([distributed.Distributed!], orders);
        for (int i = 0; i < orders.Length; i++)
        {
            expected[i] += ddg[i];
        }

        Assert.Equal(RdpAccountant.GetPrivacySpent(orders, expected, 1e-5), ledger.Spent);
        Assert.Equal(distributed.Distributed!.EffectiveNoiseMultiplier, distributed.NoiseMultiplier);
        Assert.Equal(0.1, distributed.SampleRate);
        Assert.Contains("σ_client", distributed.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void TheBudgetRefusesADistributedRoundThatWouldPassIt()
    {
        var ledger = new PrivacyLedger(new PrivacyBudget(1, 1e-5));
        var costly = new PrivacyRelease(0, "distributed-dp+secagg", Ddg(1, 500));
        Assert.Throws<PrivacyBudgetExceededException>(() => ledger.Charge(costly));
        Assert.Empty(ledger.Releases);
        Assert.Equal(0, ledger.Spent.Epsilon);
    }

    [Fact]
    public void SaveAndLoadRoundTripWritesVersionTwoOnlyWhenNeeded()
    {
        var plain = new PrivacyLedger(new PrivacyBudget(10, 1e-5));
        plain.Charge(new PrivacyRelease(0, "dp-fedavg", 0.5, 1.5));
        Assert.Contains("\"version\": 1", Saved(plain), StringComparison.Ordinal);

        var mixed = new PrivacyLedger(new PrivacyBudget(10, 1e-5));
        mixed.Charge(new PrivacyRelease(0, "dp-fedavg", 0.5, 1.5));
        mixed.Charge(new PrivacyRelease(1, "distributed-dp+secagg", Ddg()));
        string json = Saved(mixed);
        Assert.Contains("\"version\": 2", json, StringComparison.Ordinal);
        Assert.Contains("\"kind\": \"distributed-discrete-gaussian\"", json, StringComparison.Ordinal);
        var loaded = PrivacyLedger.Load(new MemoryStream(Encoding.UTF8.GetBytes(json)));
        Assert.Equal(mixed.Releases, loaded.Releases);
        Assert.Equal(mixed.Spent, loaded.Spent);
    }

    [Theory]
    [InlineData(1, "distributed-discrete-gaussian", 100)] // the kind needs version 2
    [InlineData(2, "something-else", 100)]
    [InlineData(2, "distributed-discrete-gaussian", 0)] // σ = 0
    public void LoadRejectsBadDistributedReleases(int version, string kind, double sigma)
    {
        string json = $$"""
            {"format":"confide.privacy-ledger","version":{{version}},"max_epsilon":5,"delta":1e-5,"orders":[2,4],
             "releases":[{"round":0,"mechanism":"x","kind":"{{kind}}","sample_rate":1,"steps":1,
                          "l2_sensitivity":10,"l1_sensitivity":30,"client_sigma":{{sigma}},"noise_shares":4,"dimension":9}]}
            """;
        Assert.Throws<InvalidDataException>(() => PrivacyLedger.Load(new MemoryStream(Encoding.UTF8.GetBytes(json))));
    }

    private static string Saved(PrivacyLedger ledger)
    {
        using var stream = new MemoryStream();
        ledger.Save(stream);
        return Encoding.UTF8.GetString(stream.ToArray());
    }
}
