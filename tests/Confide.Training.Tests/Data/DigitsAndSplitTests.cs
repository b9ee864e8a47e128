using System.IO.Compression;
using System.Text;
using Confide.Randomness;
using Confide.Training.Data;

namespace Confide.Training.Tests.Data;

public sealed class DigitsAndSplitTests
{
    [Fact]
    public void EmbeddedDigitsHave1797ScaledSamplesOfAllTenClasses()
    {
        var digits = DigitsDataset.Load();
        Assert.Equal(1797, digits.Count);
        Assert.Equal(new ImageShape(1, 8, 8), digits.Shape);
        var counts = digits.LabelCounts();
        Assert.All(counts, c => Assert.InRange(c, 170, 190));
        float max = 0;
        foreach (float v in digits.Features)
        {
            Assert.InRange(v, 0f, 1f);
            max = Math.Max(max, v);
        }

        Assert.Equal(1f, max);
        // The first row of the UCI file is a 0 whose third pixel is 5/16.
        Assert.Equal(0, digits.Label(0));
        Assert.Equal(5f / 16, digits.Sample(0)[2]);
    }

    [Theory]
    [InlineData("1,2,3\n", "3 fields")]
    [InlineData("17,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1\n", "'17'")]
    public void DigitsParserRejectsBadRows(string csv, string expected)
    {
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true))
        {
            gz.Write(Encoding.ASCII.GetBytes(csv));
        }

        ms.Position = 0;
        var ex = Assert.Throws<InvalidDataException>(() => DigitsDataset.Parse(ms, "bad"));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.Contains("line 1", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SplitIsDisjointCompleteAndSeeded()
    {
        var data = Tagged(500);
        var split = DatasetSplitter.Split(data, 0.2, 50, new SeededRandomSource(3));
        Assert.Equal(100, split.Test.Count);
        Assert.Equal(50, split.Root.Count);
        Assert.Equal(350, split.Clients.Count);
        var ids = Ids(split.Clients).Concat(Ids(split.Test)).Concat(Ids(split.Root)).OrderBy(i => i).ToArray();
        Assert.Equal(Enumerable.Range(0, 500).ToArray(), ids);
        var again = DatasetSplitter.Split(data, 0.2, 50, new SeededRandomSource(3));
        Assert.Equal(Ids(split.Test), Ids(again.Test));
        var other = DatasetSplitter.Split(data, 0.2, 50, new SeededRandomSource(4));
        Assert.NotEqual(Ids(split.Test), Ids(other.Test));
        Assert.Throws<ArgumentOutOfRangeException>(() => DatasetSplitter.Split(data, 1.0, 0, new SeededRandomSource(1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => DatasetSplitter.Split(data, 0.5, 250, new SeededRandomSource(1)));
    }

    /// <summary>A data set whose single feature is the sample's index, so splits can be traced.</summary>
    internal static Dataset Tagged(int n, int classes = 10)
    {
        var x = new float[n];
        var y = new int[n];
        for (int i = 0; i < n; i++)
        {
            x[i] = i;
            y[i] = i % classes;
        }

        return new Dataset("tagged", new ImageShape(1, 1, 1), classes, x, y);
    }

    internal static int[] Ids(Dataset d) => d.Features.ToArray().Select(v => (int)v).ToArray();
}
