using Confide.Parameters;
using Confide.Updates;

namespace Confide.Tests.Updates;

public sealed class UpdateValidatorTests
{
    private static readonly ParameterLayout Layout = ParameterLayout.Create(("fc.weight", [3, 2]), ("fc.bias", [2]));

    private static ClientUpdate Update(string id, long samples = 10, params float[] values) =>
        new(id, new ModelParameters(Layout, values.Length == 0 ? [1, 2, 3, 4, 5, 6, 7, 8] : values), samples);

    private static UpdateValidator Validator(long maxSamples = 1000, double? maxNorm = null) =>
        new(new UpdateValidationOptions(Layout, maxSamples, maxNorm));

    [Fact]
    public void ValidUpdatesAreAcceptedInOrder()
    {
        var updates = new[] { Update("a"), Update("b"), Update("c") };
        var result = Validator().Validate(updates);
        Assert.True(result.AllAccepted);
        Assert.Equal(updates, result.Accepted);
        Assert.Equal([0, 1, 2], result.AcceptedIndices);
    }

    [Fact]
    public void LayoutMismatchNamesTheDifference()
    {
        var other = ParameterLayout.Create(("fc.weight", [2, 3]), ("fc.bias", [2]));
        var update = new ClientUpdate("x", ModelParameters.Zeros(other), 5);
        var result = Validator().Validate([Update("a"), update]);
        var rejected = Assert.Single(result.Rejected);
        Assert.Equal(("x", 1), (rejected.ClientId, rejected.Index));
        Assert.Contains("fc.weight expected [3,2] got [2,3]", rejected.Reason, StringComparison.Ordinal);
        Assert.Equal([0], result.AcceptedIndices);
    }

    [Theory]
    [InlineData(float.NaN, "NaN")]
    [InlineData(float.PositiveInfinity, "+infinity")]
    [InlineData(float.NegativeInfinity, "-infinity")]
    public void NonFiniteValueNamesTheTensorAndIndex(float bad, string what)
    {
        var rejected = Assert.Single(Validator().Validate([Update("a", 10, 1, 2, 3, 4, 5, 6, 7, bad)]).Rejected);
        Assert.Equal($"tensor 'fc.bias' element 1 is {what}; every value must be finite", rejected.Reason);
    }

    [Fact]
    public void NonFiniteValueInALargeVectorIsFound()
    {
        var layout = ParameterLayout.Create(("a", [1000]), ("b", [100_000]));
        var values = new float[layout.TotalLength];
        values[1000 + 77_777] = float.NaN;
        var validator = new UpdateValidator(new UpdateValidationOptions(layout));
        Assert.Equal("tensor 'b' element 77777 is NaN; every value must be finite", validator.Check(new ClientUpdate("a", new ModelParameters(layout, values), 1)));
        values[1000 + 77_777] = 0;
        Assert.Null(validator.Check(new ClientUpdate("a", new ModelParameters(layout, values), 1)));
    }

    [Theory]
    [InlineData(0L, "sample count 0 is not positive")]
    [InlineData(-3L, "sample count -3 is not positive")]
    [InlineData(1001L, "sample count 1001 exceeds the bound 1000")]
    public void SampleCountMustBePositiveAndBounded(long samples, string reason) =>
        Assert.Equal(reason, Assert.Single(Validator().Validate([Update("a", samples)]).Rejected).Reason);

    [Fact]
    public void SampleCountAtTheBoundIsAccepted() =>
        Assert.Null(Validator().Check(Update("a", 1000)));

    [Fact]
    public void NormAboveTheBoundIsRejected()
    {
        // ‖(3, 4, 0, …)‖ = 5
        var validator = Validator(maxNorm: 4.99);
        var reason = validator.Check(Update("a", 10, 3, 4, 0, 0, 0, 0, 0, 0));
        Assert.Equal("L2 norm 5 exceeds the bound 4.99", reason);
        Assert.Null(Validator(maxNorm: 5.01).Check(Update("a", 10, 3, 4, 0, 0, 0, 0, 0, 0)));
    }

    [Fact]
    public void NormThatOverflowsFloatIsComputedInDouble()
    {
        var reason = Validator(maxNorm: 1e30).Check(Update("a", 10, 3e20f, 4e20f, 0, 0, 0, 0, 0, 0));
        Assert.Null(reason);
        Assert.Contains("L2 norm 5E+20", Validator(maxNorm: 1e20).Check(Update("a", 10, 3e20f, 4e20f, 0, 0, 0, 0, 0, 0)), StringComparison.Ordinal);
    }

    [Fact]
    public void DuplicateClientIdsAreAllRejected()
    {
        var result = Validator().Validate([Update("a"), Update("b"), Update("a")]);
        Assert.Equal([1], result.AcceptedIndices);
        Assert.Equal([0, 2], result.Rejected.Select(r => r.Index));
        Assert.All(result.Rejected, r => Assert.Equal("client id 'a' appears 2 times in this batch (updates 0, 2); none of them is accepted", r.Reason));
    }

    [Fact]
    public void EveryUpdateIsAcceptedOrRejectedNeverDropped()
    {
        var updates = new[] { Update("a", 0), Update("b"), Update("c", 10, 1, 2, 3, float.NaN, 5, 6, 7, 8), Update("b"), Update("d") };
        var result = Validator().Validate(updates);
        Assert.Equal(updates.Length, result.Accepted.Count + result.Rejected.Count);
        Assert.Equal([0, 1, 2, 3, 4], result.AcceptedIndices.Concat(result.Rejected.Select(r => r.Index)).Order());
    }

    [Fact]
    public void OptionsAreValidatedWhereBuilt()
    {
        Assert.Throws<ArgumentNullException>(() => new UpdateValidationOptions(null!));
        Assert.Throws<ArgumentOutOfRangeException>(() => new UpdateValidationOptions(Layout, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new UpdateValidationOptions(Layout, 10, double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => new UpdateValidationOptions(Layout, 10, -1));
        var options = new UpdateValidationOptions(Layout);
        Assert.Equal(UpdateValidationOptions.DefaultMaxSampleCount, options.MaxSampleCount);
        Assert.Throws<ArgumentOutOfRangeException>(() => options with { MaxSampleCount = -1 });
        Assert.Contains("2^53", Assert.Throws<ArgumentOutOfRangeException>(() => options with { MaxSampleCount = (1L << 53) + 1 }).Message, StringComparison.Ordinal);
        Assert.Equal(1L << 53, (options with { MaxSampleCount = 1L << 53 }).MaxSampleCount);
    }

    [Fact]
    public void ClientUpdateRequiresAnIdAndCopiesMetadata()
    {
        Assert.Throws<ArgumentException>(() => new ClientUpdate("", ModelParameters.Zeros(Layout), 1));
        var metadata = new Dictionary<string, string> { ["v"] = "1" };
        var update = new ClientUpdate("a", ModelParameters.Zeros(Layout), 1, metadata);
        metadata["v"] = "2";
        Assert.Equal("1", update.Metadata["v"]);
    }
}
