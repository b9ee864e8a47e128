using Confide.Aggregation;

namespace Confide.Tests.Aggregation;

public sealed class GeometricMedianTests
{
    private static readonly GeometricMedianOptions Tight = new() { MaxIterations = 2000, Tolerance = 0 };

    [Fact]
    public void RightTriangleGivesTheFermatPoint()
    {
        // For (0,0), (1,0), (0,1) every angle is below 120°, so the geometric median is the Fermat point, on y = x at
        // t with 6t² − 6t + 1 = 0 (the three unit vectors to the vertices sum to zero): t = (3 − √3)/6.
        double t = (3 - Math.Sqrt(3)) / 6;
        var result = new GeometricMedian(Tight).Aggregate([new float[] { 0, 0 }, new float[] { 1, 0 }, new float[] { 0, 1 }], [1, 1, 1]);
        Assert.Equal(t, result.Aggregate[0], 1e-4);
        Assert.Equal(t, result.Aggregate[1], 1e-4);
        Assert.Equal([0, 1, 2], result.Selected);
        Assert.Empty(result.Flagged);
        // Scores are the distances to the result.
        Assert.NotNull(result.Scores);
        Assert.Equal(Math.Sqrt(2) * t, result.Scores![0], 1e-4);
    }

    [Fact]
    public void OneDimensionalWeightedMedian()
    {
        // In one dimension the geometric median is the weighted median: weights 1, 1, 3 at 0, 1, 10 put it at 10.
        var result = new GeometricMedian(Tight).Aggregate([new float[] { 0 }, new float[] { 1 }, new float[] { 10 }], [1, 1, 3]);
        Assert.Equal(10, result.Aggregate[0], 1e-3);
        var unweighted = new GeometricMedian(Tight).Aggregate([new float[] { 0 }, new float[] { 1 }, new float[] { 10 }], [1, 1, 1]);
        Assert.Equal(1, unweighted.Aggregate[0], 1e-3);
    }

    [Fact]
    public void MinorityOfHugeOutliersCannotCarryTheResult()
    {
        // 7 honest updates near the origin, 3 at distance ≈ 1.7e6: the mean moves by ~5e5, the geometric median stays near the honest points.
        var updates = StatTestData.Updates(10, 3, 5);
        for (int i = 0; i < 7; i++)
        {
            for (int j = 0; j < 3; j++)
            {
                updates[i][j] /= 10; // honest values within ±1
            }
        }

        for (int i = 7; i < 10; i++)
        {
            updates[i] = [1e6f, 1e6f, 1e6f];
        }

        var result = new GeometricMedian().Aggregate(StatTestData.Memories(updates), StatTestData.Ones(10));
        foreach (float x in result.Aggregate)
        {
            Assert.InRange(x, -3f, 3f);
        }

        Assert.True(result.Scores![9] > 1e6, "an outlier's distance to the result is its score");
    }

    [Fact]
    public void OneIterationIsOneWeiszfeldStep()
    {
        // From the mean m = (1/3, 1/3) of (0,0), (1,0), (0,1): distances √2/3, √5/3, √5/3; weights 1/d; one step gives
        // z = Σ xᵢ/dᵢ / Σ 1/dᵢ = (1/√5, 1/√5)·3 / (3/√2 + 6/√5).
        var options = new GeometricMedianOptions { MaxIterations = 1, Tolerance = 0 };
        var result = new GeometricMedian(options).Aggregate([new float[] { 0, 0 }, new float[] { 1, 0 }, new float[] { 0, 1 }], [1, 1, 1]);
        double expected = 3 / Math.Sqrt(5) / ((3 / Math.Sqrt(2)) + (6 / Math.Sqrt(5)));
        Assert.Equal(expected, result.Aggregate[0], 1e-6);
        Assert.Equal(expected, result.Aggregate[1], 1e-6);
    }

    [Fact]
    public void OptionsAreCheckedWhereSet()
    {
        Assert.Contains("smoothing ν", Assert.Throws<ArgumentOutOfRangeException>(() => new GeometricMedianOptions { Smoothing = 0 }).Message, StringComparison.Ordinal);
        Assert.Contains("max iterations", Assert.Throws<ArgumentOutOfRangeException>(() => new GeometricMedianOptions { MaxIterations = 0 }).Message, StringComparison.Ordinal);
        Assert.Contains("tolerance", Assert.Throws<ArgumentOutOfRangeException>(() => new GeometricMedianOptions { Tolerance = double.NaN }).Message, StringComparison.Ordinal);
        var defaults = new GeometricMedianOptions();
        Assert.Equal(1e-6, defaults.Smoothing);
        Assert.Equal(100, defaults.MaxIterations);
        Assert.Equal(1e-6, defaults.Tolerance);
    }

    [Fact]
    public void InfinityIsRejected()
    {
        var ex = Assert.Throws<ArgumentException>(() =>
            new GeometricMedian().Aggregate([new float[] { 0, 1 }, new float[] { float.NegativeInfinity, 0 }], [1, 1]));
        Assert.Contains("update 1 has the non-finite value", ex.Message, StringComparison.Ordinal);
    }
}
