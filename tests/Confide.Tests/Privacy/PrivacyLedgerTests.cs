using Confide.Privacy;

namespace Confide.Tests.Privacy;

public sealed class PrivacyLedgerTests
{
    private static PrivacyRelease Round(long r) => new(r, "dp-fedavg", 0.04, 1.5);

    [Fact]
    public void SpentMatchesTheAccountantOverTheSameHistory()
    {
        var ledger = new PrivacyLedger(new PrivacyBudget(100, 1e-5));
        for (int r = 0; r < 2250; r += 250)
        {
            ledger.Charge(new PrivacyRelease(r, "dp-fedavg", 0.04, 1.5, 250));
        }

        // 9 × 250 = 2250 steps: the Opacus known answer.
        Assert.Equal(7.32911117143, ledger.Spent.Epsilon, 1e-5);
        Assert.Equal(9, ledger.Releases.Count);
        Assert.Equal(2001, ledger.NextRound);
    }

    [Fact]
    public void RefusesTheRoundThatWouldPassTheBudgetAndChargesNothing()
    {
        var ledger = new PrivacyLedger(new PrivacyBudget(1.0, 1e-5));
        long round = 0;
        while (ledger.TryCharge([Round(round)], out _))
        {
            round++;
            Assert.True(round < 100_000, "the budget was never reached");
        }

        Assert.True(round > 0);
        double spent = ledger.Spent.Epsilon;
        Assert.True(spent <= 1.0);
        int count = ledger.Releases.Count;

        var ex = Assert.Throws<PrivacyBudgetExceededException>(() => ledger.Charge(Round(round)));
        Assert.Equal(spent, ex.SpentEpsilon, 12);
        Assert.True(ex.EpsilonAfter > 1.0);
        Assert.True(ex.RoundCost > 0);
        Assert.Contains("spent so far", ex.Message, StringComparison.Ordinal);
        Assert.Contains("ε_max = 1", ex.Message, StringComparison.Ordinal);
        Assert.Contains($"round {round}", ex.Message, StringComparison.Ordinal);

        // Nothing changed.
        Assert.Equal(count, ledger.Releases.Count);
        Assert.Equal(spent, ledger.Spent.Epsilon, 15);
    }

    [Fact]
    public void ChargesARoundsReleasesAllOrNothing()
    {
        var ledger = new PrivacyLedger(new PrivacyBudget(2.0, 1e-5));
        var cheap = new PrivacyRelease(0, "a", 0.01, 2.0);
        var costly = new PrivacyRelease(0, "b", 1.0, 0.3);
        Assert.Throws<PrivacyBudgetExceededException>(() => ledger.Charge(cheap, costly));
        Assert.Empty(ledger.Releases);
        Assert.Equal(0, ledger.Spent.Epsilon);
        ledger.Charge(cheap);
        Assert.Single(ledger.Releases);
    }

    [Fact]
    public void PreviewDoesNotChargeAndRemainingShrinks()
    {
        var ledger = new PrivacyLedger(new PrivacyBudget(3, 1e-5));
        Assert.Equal(3, ledger.RemainingEpsilon);
        var preview = ledger.Preview(Round(0));
        Assert.Empty(ledger.Releases);
        var after = ledger.Charge(Round(0));
        Assert.Equal(preview, after);
        Assert.Equal(3 - after.Epsilon, ledger.RemainingEpsilon, 12);
        Assert.True(ledger.RemainingEpsilon < 3);
    }

    [Fact]
    public void RoundsMustNotGoBackwards()
    {
        var ledger = new PrivacyLedger(new PrivacyBudget(10, 1e-5));
        ledger.Charge(Round(5));
        Assert.Throws<ArgumentException>(() => ledger.Charge(Round(4)));
        ledger.Charge(Round(5));
        Assert.Equal(2, ledger.Releases.Count);
    }

    [Fact]
    public void SaveAndLoadRoundTrip()
    {
        var ledger = new PrivacyLedger(new PrivacyBudget(5, 1e-6));
        ledger.Charge(new PrivacyRelease(0, "dp-fedavg", 0.02, 1.1, 3));
        ledger.Charge(new PrivacyRelease(3, "dp-fedavg+adaptive-clipping", 0.05, 1.7));
        using var stream = new MemoryStream();
        ledger.Save(stream);
        stream.Position = 0;
        var loaded = PrivacyLedger.Load(stream);
        Assert.Equal(ledger.Budget, loaded.Budget);
        Assert.Equal(ledger.Releases, loaded.Releases);
        Assert.Equal(ledger.Orders, loaded.Orders);
        Assert.Equal(ledger.Spent, loaded.Spent);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("{\"format\":\"something-else\",\"version\":1}")]
    [InlineData("{\"format\":\"confide.privacy-ledger\",\"version\":3}")]
    [InlineData("{\"format\":\"confide.privacy-ledger\",\"version\":1,\"max_epsilon\":-1,\"delta\":1e-5,\"orders\":[2],\"releases\":[]}")]
    [InlineData("{\"format\":\"confide.privacy-ledger\",\"version\":1,\"max_epsilon\":1,\"delta\":1e-5,\"orders\":[2],\"releases\":[{\"round\":0,\"mechanism\":\"x\",\"sample_rate\":2,\"noise_multiplier\":1,\"steps\":1}]}")]
    [InlineData("{\"format\":\"confide.privacy-ledger\",\"version\":1,\"max_epsilon\":1,\"delta\":1e-5,\"orders\":[2],\"releases\":[{\"round\":3,\"mechanism\":\"x\",\"sample_rate\":0.1,\"noise_multiplier\":1,\"steps\":1},{\"round\":1,\"mechanism\":\"x\",\"sample_rate\":0.1,\"noise_multiplier\":1,\"steps\":1}]}")]
    public void LoadRejectsBadInput(string json)
    {
        using var stream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(json));
        Assert.Throws<InvalidDataException>(() => PrivacyLedger.Load(stream));
    }

    [Fact]
    public void BudgetAndReleaseValidateTheirArguments()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new PrivacyBudget(0, 1e-5));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PrivacyBudget(1, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PrivacyRelease(-1, "x", 0.1, 1));
        Assert.Throws<ArgumentException>(() => new PrivacyRelease(0, " ", 0.1, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PrivacyRelease(0, "x", 0.1, 0));
    }
}
