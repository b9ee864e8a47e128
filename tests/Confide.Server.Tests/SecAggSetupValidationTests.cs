using Confide.Client.Internal;
using Confide.Randomness;
using Confide.SecureAggregation;
using Confide.Wire.V1;
using Google.Protobuf;

namespace Confide.Server.Tests;

/// <summary>The client refuses a SecAgg setup it cannot trust to be consistent, saying what is wrong.</summary>
public sealed class SecAggSetupValidationTests
{
    private static SecAggSetup Valid() => SecAggSetups.ThreeClients(5, 16);

    [Fact]
    public void A_consistent_setup_opens_a_session_naming_this_client()
    {
        var (session, me, roster, quantizer) = SecAggWireClient.Open(Valid(), 3, "b", 15);
        Assert.Equal(1, me);
        Assert.Equal(["a", "b", "c"], roster);
        Assert.Equal(3, session.Options.ClientCount);
        Assert.Equal(3, session.Round);
        Assert.Equal(1 << 20, quantizer.Options.Scale);
    }

    [Theory]
    [InlineData("stranger", "does not include this client")]
    [InlineData("dimension", "does not fit a model of 14 parameters")]
    [InlineData("threshold", "Shamir threshold")]
    [InlineData("seed", "graph seed must be 32 bytes")]
    [InlineData("duplicate", "names a client twice")]
    [InlineData("overflow", "setup is invalid")]
    [InlineData("key", "setup is invalid")]
    [InlineData("headroom", "fewer than the 3 in the roster")]
    public void An_inconsistent_setup_is_refused_with_the_reason(string fault, string expected)
    {
        var setup = Valid();
        string me = "b";
        int modelLength = 15;
        switch (fault)
        {
            case "stranger": me = "z"; break;
            case "dimension": modelLength = 14; break;
            case "threshold": setup.Threshold = 0; break;
            case "seed": setup.GraphSeed = ByteString.CopyFrom(new byte[31]); break;
            case "duplicate": setup.Roster[2].ClientId = "a"; break;
            case "overflow": setup.Scale = 1L << 40; break;
            case "key": setup.Roster[0].IdentityPublicKey = ByteString.CopyFrom(new byte[5]); break;
            case "headroom": setup.MaxClients = 2; break;
        }

        var ex = Assert.Throws<InvalidDataException>(() => SecAggWireClient.Open(setup, 3, me, modelLength));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }
}
