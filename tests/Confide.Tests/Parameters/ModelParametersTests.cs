using Confide.Parameters;

namespace Confide.Tests.Parameters;

public sealed class ModelParametersTests
{
    private static readonly ParameterLayout Layout = ParameterLayout.Create(("w", [2, 3]), ("b", [3]));

    [Fact]
    public void SlicesAreNamedViewsOfTheFlatVector()
    {
        var p = ModelParameters.Zeros(Layout);
        p.Tensor("b")[1] = 5f;
        Assert.Equal(9, p.Length);
        Assert.Equal(5f, p.AsSpan()[7]);
    }

    [Fact]
    public void DictionaryRoundTrips()
    {
        var p = new ModelParameters(Layout, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
        var back = ModelParameters.FromDictionary(Layout, p.ToDictionary());
        Assert.Equal(p.AsSpan().ToArray(), back.AsSpan().ToArray());
    }

    [Fact]
    public void StrictDictionaryReportsMissingAndUnexpectedNames()
    {
        var dict = new Dictionary<string, (int[], float[])> { ["w"] = ([2, 3], new float[6]), ["extra"] = ([1], new float[1]) };
        var ex = Assert.Throws<ArgumentException>(() => ModelParameters.FromDictionary(Layout, dict));
        Assert.Contains("missing tensors: b", ex.Message, StringComparison.Ordinal);
        Assert.Contains("unexpected tensors: extra", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FingerprintDependsOnNamesShapesAndOrder()
    {
        var same = ParameterLayout.Create(("w", [2, 3]), ("b", [3]));
        var reshaped = ParameterLayout.Create(("w", [3, 2]), ("b", [3]));
        var reordered = ParameterLayout.Create(("b", [3]), ("w", [2, 3]));
        Assert.Equal(Layout, same);
        Assert.NotEqual(Layout, reshaped);
        Assert.NotEqual(Layout, reordered);
        Assert.Contains("shape mismatch", Layout.DescribeDifference(reshaped), StringComparison.Ordinal);
        Assert.Null(Layout.DescribeDifference(same));
    }

    [Fact]
    public void DuplicateNamesAreRefused()
    {
        var ex = Assert.Throws<ArgumentException>(() => ParameterLayout.Create(("w", [1]), ("w", [2])));
        Assert.Contains("appears twice", ex.Message, StringComparison.Ordinal);
    }
}
