using Confide.Aggregation;
using Confide.Protocol.Rounds;
using Confide.Protocol.SecureAggregation;

namespace Confide.Protocol.Tests.Rounds;

/// <summary>RoundOptions, SecAggOptions and SecAggStageDeadlines refuse bad values in one shape: parameter, value, what was expected.</summary>
public sealed class OptionValidationTests
{
    private static readonly AggregatorSettings FedAvg = new("fedavg");

    public static TheoryData<string, Func<object>, string, object> Cases() => new()
    {
        { "rounds", () => new RoundOptions(0, ClientSampling.OfCount(2), TimeSpan.FromSeconds(1), 1, FedAvg), "The number of rounds must be at least 1.", 0L },
        { "collectTimeout", () => new RoundOptions(1, ClientSampling.OfCount(2), TimeSpan.Zero, 1, FedAvg), "The collect timeout must be a positive duration.", TimeSpan.Zero },
        { "minUpdates", () => new RoundOptions(1, ClientSampling.OfCount(2), TimeSpan.FromSeconds(1), 0, FedAvg), "The minimum number of updates must be at least 1.", 0L },
        { "maxSampleCount", () => new RoundOptions(1, ClientSampling.OfCount(2), TimeSpan.FromSeconds(1), 1, FedAvg, maxSampleCount: 0), "The largest sample count must be between 1 and 9007199254740992.", 0L },
        { "maxSampleCount", () => new RoundOptions(1, ClientSampling.OfCount(2), TimeSpan.FromSeconds(1), 1, FedAvg, maxSampleCount: (1L << 53) + 1), "The largest sample count must be between 1 and 9007199254740992.", (1L << 53) + 1 },
        { "serverLearningRate", () => new RoundOptions(1, ClientSampling.OfCount(2), TimeSpan.FromSeconds(1), 1, FedAvg, serverLearningRate: double.NaN), "The server learning rate must be a finite number > 0.", double.NaN },
        { "maxUpdateNorm", () => new RoundOptions(1, ClientSampling.OfCount(2), TimeSpan.FromSeconds(1), 1, FedAvg, maxUpdateNorm: double.PositiveInfinity), "The update norm bound must be a finite number > 0.", double.PositiveInfinity },
        { "clientCount", () => new SecAggOptions(1, 1, 1), "The number of clients n must be between 2 and 65536.", 1L },
        { "neighbourCount", () => new SecAggOptions(5, 1, 1, neighbourCount: 5), "The neighbour count must be between 1 and n − 1 = 4.", 5L },
        { "threshold", () => new SecAggOptions(5, 4, 1, neighbourCount: 2), "The Shamir threshold must be between 1 and the neighbour count 2.", 4L },
        { "dimension", () => new SecAggOptions(5, 2, 0), "The vector length D must be at least 1.", 0L },
        { "modulusBits", () => new SecAggOptions(5, 2, 1, modulusBits: 63), "The modulus exponent k must be between 1 and 62.", 63L },
        { "signatureQuorum", () => new SecAggOptions(4, 2, 1, signatureQuorum: 5), "The signature quorum must be between 1 and n = 4.", 5L },
        { "unmasking", () => new SecAggStageDeadlines(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(-1)), "The unmasking stage deadline must be a positive duration.", TimeSpan.FromSeconds(-1) },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void A_bad_value_names_the_parameter_carries_the_value_and_says_what_was_expected(string parameter, Func<object> build, string message, object value)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(build);
        Assert.Equal(parameter, ex.ParamName);
        Assert.StartsWith(message, ex.Message, StringComparison.Ordinal);
        Assert.Equal(value, ex.ActualValue);
    }
}
