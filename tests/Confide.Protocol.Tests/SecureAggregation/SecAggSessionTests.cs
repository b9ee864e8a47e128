using Confide.Protocol.SecureAggregation;
using Confide.Randomness;
using Confide.SecureAggregation;

namespace Confide.Protocol.Tests.SecureAggregation;

public sealed class SecAggSessionTests
{
    [Fact]
    public void RejectsARosterOfTheWrongSizeAndABadGraphSeed()
    {
        var random = new SeededRandomSource(1);
        var keys = Enumerable.Range(0, 3).Select(_ => IdentityKeyPair.Generate(random)).ToArray();
        var roster = keys.Select(k => k.PublicKey).ToArray();
        var options = new SecAggOptions(4, 2, 1);
        Assert.Throws<ArgumentException>(() => new SecAggSession("s", 0, options, roster, new byte[32]));
        var three = new SecAggOptions(3, 1, 1);
        Assert.Throws<ArgumentException>(() => new SecAggSession("s", 0, three, roster, new byte[31]));
        Assert.Throws<ArgumentException>(() => new SecAggSession("", 0, three, roster, new byte[32]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SecAggSession("s", -1, three, roster, new byte[32]));
        var session = new SecAggSession("s", 0, three, roster, new byte[32]);
        Assert.Equal([1, 2], session.Neighbours(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => session.Neighbours(3));
    }

    [Fact]
    public void ClientRefusesAnIdentityKeyOrInputThatDoesNotFitTheSession()
    {
        var random = new SeededRandomSource(2);
        var keys = Enumerable.Range(0, 3).Select(_ => IdentityKeyPair.Generate(random)).ToArray();
        var session = new SecAggSession("s", 0, new SecAggOptions(3, 1, 2, modulusBits: 8), keys.Select(k => k.PublicKey).ToArray(), new byte[32]);
        Assert.Throws<ArgumentException>(() => new SecAggClient(session, 0, keys[1], [1, 2], random));
        Assert.Throws<ArgumentException>(() => new SecAggClient(session, 0, keys[0], [1, 2, 3], random));
        var ex = Assert.Throws<ArgumentException>(() => new SecAggClient(session, 0, keys[0], [1, 256], random));
        Assert.Contains("Z_2^8", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => new SecAggClient(session, 3, keys[0], [1, 2], random));
        using var client = new SecAggClient(session, 0, keys[0], [1, 255], random);
        Assert.Equal(SecAggStage.AdvertiseKeys, client.Stage);
        Assert.DoesNotContain("255", client.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void DropoutPatternsAreValidated()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => SecAggDropouts.Random(5, 1.5, new SeededRandomSource(1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => SecAggDropouts.At(SecAggStage.Completed, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => SecAggDropouts.At(SecAggStage.ShareKeys, -1));
        var fraction = SecAggDropouts.Fraction(10, 0.3, SecAggStage.Unmasking, new SeededRandomSource(3));
        Assert.Equal(3, fraction.DropBefore.Count);
        int dropped = fraction.DropBefore.Keys.First();
        Assert.True(fraction.Sends(dropped, SecAggStage.ConsistencyCheck));
        Assert.False(fraction.Sends(dropped, SecAggStage.Unmasking));
    }
}
