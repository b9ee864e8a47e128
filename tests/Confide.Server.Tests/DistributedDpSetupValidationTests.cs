using Confide.Client.Internal;
using Confide.Privacy;
using Confide.Randomness;
using Confide.Wire.V1;
using Google.Protobuf;

namespace Confide.Server.Tests;

/// <summary>
/// A client rebuilds the distributed-DP plan from the server's SecAgg setup and refuses one that would make it send an
/// unnoised or overflowing vector (a hostile or misconfigured server).
/// </summary>
public sealed class DistributedDpSetupValidationTests
{
    private const int ModelLength = 15;
    private static readonly DistributedDpPlan Plan = DistributedDpPlan.ForNoiseMultiplier(0.5, 4, 3, ModelLength, 32, DistributedDpPlan.DefaultRoundingBeta, 1.0);

    private static SecAggSetup Valid() => new()
    {
        SessionId = "round-1-0123456789abcdef",
        Threshold = 2,
        NeighbourCount = 3,
        ModulusBits = 32,
        SignatureQuorum = 3,
        GraphSeed = ByteString.CopyFrom(new byte[32]),
        Dimension = ModelLength + 1,
        ClipRange = Plan.ClipNorm,
        Scale = Plan.Scale,
        MaxWeight = 1,
        MaxClients = Plan.MaxClients,
        UnitWeight = true,
        DpNoiseVariance = Plan.NoiseVariance,
        DpRoundingBeta = Plan.Beta,
        DpMinSurvivors = Plan.MinimumSurvivors,
    };

    [Fact]
    public void A_consistent_setup_gives_the_servers_plan_with_the_clients_own_bounds()
    {
        var plan = SecAggWireClient.OpenNoise(Valid(), ModelLength, minimumNoiseMultiplier: null)!;
        Assert.Equal(Plan.NoiseVariance, plan.NoiseVariance);
        Assert.Equal(Plan.L2Sensitivity, plan.L2Sensitivity);
        Assert.Equal(Plan.Quantizer.Options, plan.Quantizer.Options);
        var update = Enumerable.Range(0, ModelLength).Select(i => 0.01f * i).ToArray();
        Assert.Equal(Plan.Encode(update, new SeededRandomSource(4)), plan.Encode(update, new SeededRandomSource(4)));
    }

    [Fact]
    public void Without_noise_fields_there_is_no_plan_unless_the_client_requires_noise()
    {
        var central = Valid();
        central.DpNoiseVariance = 0;
        central.DpRoundingBeta = 0;
        central.DpMinSurvivors = 0;
        Assert.Null(SecAggWireClient.OpenNoise(central, ModelLength, null));
        var ex = Assert.Throws<InvalidDataException>(() => SecAggWireClient.OpenNoise(central, ModelLength, 0.5));
        Assert.Contains("asks for none", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("half-set", "no noise variance")]
    [InlineData("weighted", "unit weight")]
    [InlineData("max-weight", "unit weight")]
    [InlineData("overflow", "could overflow")]
    [InlineData("beta-one", "β")]
    [InlineData("beta-nan", "β")]
    [InlineData("survivors-low", "minimum survivors")]
    [InlineData("survivors-high", "minimum survivors")]
    [InlineData("scale-zero", "scale")]
    [InlineData("scale-inf", "scale")]
    [InlineData("clip-nan", "distributed-DP setup is invalid")]
    [InlineData("bits", "distributed-DP setup is invalid")]
    [InlineData("below-floor", "below this client's floor")]
    public void A_setup_that_could_send_an_unnoised_or_overflowing_vector_is_refused(string fault, string expected)
    {
        var setup = Valid();
        double? floor = null;
        switch (fault)
        {
            case "half-set": setup.DpNoiseVariance = 0; break;
            case "weighted": setup.UnitWeight = false; break;
            case "max-weight": setup.MaxWeight = 100; break;
            case "overflow": setup.DpNoiseVariance = 10_000_000_000_000_000UL; break;
            case "beta-one": setup.DpRoundingBeta = 1; break;
            case "beta-nan": setup.DpRoundingBeta = double.NaN; break;
            case "survivors-low": setup.DpMinSurvivors = 1; break;
            case "survivors-high": setup.DpMinSurvivors = 5; break;
            case "scale-zero": setup.Scale = 0; break;
            case "scale-inf": setup.Scale = double.PositiveInfinity; break;
            case "clip-nan": setup.ClipRange = double.NaN; break;
            case "bits": setup.ModulusBits = 16; break;
            case "below-floor": floor = Plan.EffectiveNoiseMultiplier * 1.5; break;
        }

        var ex = Assert.Throws<InvalidDataException>(() => SecAggWireClient.OpenNoise(setup, ModelLength, floor));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }
}
