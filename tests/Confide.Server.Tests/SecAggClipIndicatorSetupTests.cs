using Confide.Client.Internal;
using Confide.Randomness;
using Confide.SecureAggregation;
using Confide.Wire.V1;
using Google.Protobuf;

namespace Confide.Server.Tests;

/// <summary>The client checks the clip-indicator part of a SecAgg setup (adaptive clipping) before it sends anything.</summary>
public sealed class SecAggClipIndicatorSetupTests
{
    private const int ModelLength = 14;

    private static SecAggSetup WithIndicator()
    {
        var setup = SecAggSetups.ThreeClients(6, ModelLength + 2);
        setup.ClipRange = 0.5;
        setup.MaxWeight = 1;
        setup.UnitWeight = true;
        setup.ClipIndicator = true;
        setup.ClipIndicatorIndex = ModelLength + 1;
        return setup;
    }

    [Fact]
    public void A_setup_with_the_indicator_after_the_weight_opens_a_session_of_D_plus_2()
    {
        var (session, _, _, _) = SecAggWireClient.Open(WithIndicator(), 3, "a", ModelLength);
        Assert.Equal(ClipIndicatorEncoding.EncodedLength(ModelLength), session.Options.Dimension);
    }

    [Theory]
    [InlineData("length", "expected 16, with the clip indicator")]
    [InlineData("index", "index 3")]
    [InlineData("weights", "unit_weight = False")]
    [InlineData("no-indicator", "expected 15)")]
    public void An_inconsistent_indicator_setup_is_refused_with_the_reason(string fault, string expected)
    {
        var setup = WithIndicator();
        int modelLength = ModelLength;
        switch (fault)
        {
            case "length": setup.Dimension = ModelLength + 1; break;
            case "index": setup.ClipIndicatorIndex = 3; break;
            case "weights": setup.UnitWeight = false; break;
            case "no-indicator": setup.ClipIndicator = false; break;
        }

        var ex = Assert.Throws<InvalidDataException>(() => SecAggWireClient.Open(setup, 3, "a", modelLength));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }
}
