using Confide.Protocol.SecureAggregation;

namespace Confide.Protocol.Tests.SecureAggregation;

public sealed class SecAggOptionsTests
{
    [Fact]
    public void DefaultsAreTheFullGraphAndAMajorityQuorum()
    {
        var o = new SecAggOptions(clientCount: 10, threshold: 6, dimension: 3);
        Assert.Equal(9, o.NeighbourCount);
        Assert.True(o.IsFullGraph);
        Assert.Equal(6, o.SignatureQuorum);
        Assert.Equal(32, o.ModulusBits);
        Assert.Equal(uint.MaxValue, o.ModulusMask);
    }

    [Theory]
    [InlineData(1, 1, 1, null, 32, "clientCount")]
    [InlineData(5, 1, 1, 5, 32, "neighbourCount")]
    [InlineData(5, 1, 1, 0, 32, "neighbourCount")]
    [InlineData(5, 4, 1, 3, 32, "threshold")]
    [InlineData(5, 0, 1, null, 32, "threshold")]
    [InlineData(5, 2, 0, null, 32, "dimension")]
    [InlineData(5, 2, 1, null, 63, "modulusBits")]
    [InlineData(5, 2, 1, null, 0, "modulusBits")]
    public void RejectsBadParametersNamingThem(int n, int t, int d, int? k, int bits, string parameter)
    {
        var ex = Assert.ThrowsAny<ArgumentException>(() => new SecAggOptions(n, t, d, k, bits));
        Assert.Equal(parameter, ex.ParamName);
    }

    [Fact]
    public void RejectsAQuorumOutsideTheRoster()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new SecAggOptions(4, 2, 1, signatureQuorum: 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SecAggOptions(4, 2, 1, signatureQuorum: 0));
    }

    [Fact]
    public void StagesMoveForwardOnlyAndTerminalStagesHaveNoSuccessor()
    {
        Assert.Equal(SecAggStage.ShareKeys, SecAggStages.Next(SecAggStage.AdvertiseKeys));
        Assert.Equal(SecAggStage.Completed, SecAggStages.Next(SecAggStage.Unmasking));
        Assert.Throws<InvalidOperationException>(() => SecAggStages.Next(SecAggStage.Completed));
        Assert.Throws<InvalidOperationException>(() => SecAggStages.Next(SecAggStage.Aborted));
    }
}
