using System.Buffers.Binary;
using System.IO.Compression;
using Confide.Training.Data;

namespace Confide.Training.Tests.Data;

public sealed class IdxReaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("confide-idx-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    internal static byte[] Idx(byte type, int[] dims, byte[] values)
    {
        var bytes = new byte[4 + (4 * dims.Length) + values.Length];
        bytes[2] = type;
        bytes[3] = (byte)dims.Length;
        for (int d = 0; d < dims.Length; d++)
        {
            BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4 + (4 * d)), dims[d]);
        }

        values.CopyTo(bytes, 4 + (4 * dims.Length));
        return bytes;
    }

    internal static byte[] Gzip(byte[] raw)
    {
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest))
        {
            gz.Write(raw);
        }

        return ms.ToArray();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ReadsImagesRawAndGzipped(bool gzip)
    {
        byte[] values = [0, 255, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        var raw = Idx(0x08, [2, 2, 3], values);
        var array = IdxReader.Read(new MemoryStream(gzip ? Gzip(raw) : raw), "t");
        Assert.Equal([2, 2, 3], array.Dimensions);
        Assert.Equal(values, array.Values);
    }

    [Fact]
    public void BuildsADatasetScaledToUnitInterval()
    {
        string images = Path.Combine(_dir, "img.gz");
        string labels = Path.Combine(_dir, "lab.gz");
        File.WriteAllBytes(images, Gzip(Idx(0x08, [2, 2, 2], [0, 255, 51, 102, 1, 2, 3, 4])));
        File.WriteAllBytes(labels, Gzip(Idx(0x08, [2], [7, 3])));
        var data = IdxReader.ReadImagesAndLabels(images, labels, 10, "tiny");
        Assert.Equal(2, data.Count);
        Assert.Equal(new ImageShape(1, 2, 2), data.Shape);
        Assert.Equal([7, 3], data.Labels.ToArray());
        Assert.Equal(1f, data.Sample(0)[1]);
        Assert.Equal(0.2f, data.Sample(0)[2], 1e-6f);
    }

    public static TheoryData<string, byte[], string> Malformed => new()
    {
        { "empty", [], "truncated" },
        { "bad magic", [1, 0, 8, 1, 0, 0, 0, 1, 5], "not an IDX file" },
        { "float type", Idx(0x0D, [1], [0, 0, 0, 0]), "element type 0x0D" },
        { "zero rank", [0, 0, 8, 0], "0 dimensions" },
        { "short header", [0, 0, 8, 3, 0, 0, 0, 2], "dimension sizes" },
        { "zero dimension", Idx(0x08, [0, 28], []), "size 0" },
        { "truncated data", Idx(0x08, [3, 2], [1, 2, 3, 4, 5]).AsSpan(0, 4 + 8 + 5).ToArray(), "promises 6 bytes of data, but only 5" },
        { "trailing bytes", [.. Idx(0x08, [2], [1, 2]), 9], "bytes after" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void RejectsMalformedFilesWithAClearMessage(string what, byte[] bytes, string expected)
    {
        var ex = Assert.Throws<InvalidDataException>(() => IdxReader.Read(new MemoryStream(bytes), "f.idx"));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.Contains("f.idx", ex.Message + what, StringComparison.Ordinal);
    }

    [Fact]
    public void RejectsATruncatedGzipFile()
    {
        var gz = Gzip(Idx(0x08, [100], new byte[100]));
        var cut = gz.AsSpan(0, gz.Length / 2).ToArray();
        Assert.Throws<InvalidDataException>(() => IdxReader.Read(new MemoryStream(cut), "f.gz"));
    }

    [Fact]
    public void RejectsMismatchedCountsAndLabelsOutOfRange()
    {
        string images = Path.Combine(_dir, "i");
        string labels = Path.Combine(_dir, "l");
        File.WriteAllBytes(images, Idx(0x08, [2, 1, 1], [1, 2]));
        File.WriteAllBytes(labels, Idx(0x08, [3], [1, 2, 3]));
        Assert.Contains("holds 2 images", Assert.Throws<InvalidDataException>(() => IdxReader.ReadImagesAndLabels(images, labels, 10, "x")).Message, StringComparison.Ordinal);
        File.WriteAllBytes(labels, Idx(0x08, [2], [1, 12]));
        Assert.Contains("label 12", Assert.Throws<InvalidDataException>(() => IdxReader.ReadImagesAndLabels(images, labels, 10, "x")).Message, StringComparison.Ordinal);
        File.WriteAllBytes(labels, Idx(0x08, [2, 1], [1, 2]));
        Assert.Contains("labels file has 1", Assert.Throws<InvalidDataException>(() => IdxReader.ReadImagesAndLabels(images, labels, 10, "x")).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MissingFashionMnistSaysHowToInstallIt()
    {
        var ex = Assert.Throws<FileNotFoundException>(() => FashionMnistSource.Load(_dir));
        Assert.Contains("apt-get install dataset-fashion-mnist", ex.Message, StringComparison.Ordinal);
        Assert.Contains("--data-dir", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadsFashionMnistLayoutFromADirectory()
    {
        // Four tiny files with the real names, so the directory logic is tested without the real data set.
        File.WriteAllBytes(Path.Combine(_dir, "train-images-idx3-ubyte.gz"), Gzip(Idx(0x08, [3, 28, 28], new byte[3 * 784])));
        File.WriteAllBytes(Path.Combine(_dir, "train-labels-idx1-ubyte.gz"), Gzip(Idx(0x08, [3], [0, 9, 4])));
        File.WriteAllBytes(Path.Combine(_dir, "t10k-images-idx3-ubyte"), Idx(0x08, [1, 28, 28], new byte[784]));
        File.WriteAllBytes(Path.Combine(_dir, "t10k-labels-idx1-ubyte"), Idx(0x08, [1], [5]));
        var (train, test) = FashionMnistSource.Load(_dir);
        Assert.Equal(3, train.Count);
        Assert.Equal(1, test.Count);
        Assert.Equal(new ImageShape(1, 28, 28), train.Shape);
    }
}
