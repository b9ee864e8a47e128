using System.Globalization;
using System.IO.Compression;

namespace Confide.Training.Data;

/// <summary>
/// The embedded default data set: UCI "Optical Recognition of Handwritten Digits" (Alpaydin and Kaynak 1998), the
/// 1797-image portion shipped with scikit-learn, CC BY 4.0 (see NOTICE and <c>Data/digits.rst</c>). Each row holds
/// 64 pixel counts in 0..16 (an 8 × 8 image) and the digit; pixels are scaled to [0, 1].
/// </summary>
public static class DigitsDataset
{
    /// <summary>The number of samples.</summary>
    public const int SampleCount = 1797;

    private const string ResourceName = "Confide.Training.Data.digits.csv.gz";

    /// <summary>Loads the embedded copy.</summary>
    public static Dataset Load()
    {
        using var stream = typeof(DigitsDataset).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"The embedded resource '{ResourceName}' is missing from the build.");
        return Parse(stream, "digits", expectedRows: SampleCount);
    }

    /// <summary>
    /// Parses gzip-compressed CSV rows of 64 integers in 0..16 followed by a label in 0..9.
    /// </summary>
    /// <exception cref="InvalidDataException">A row is malformed (its line number is given) or the row count differs from <paramref name="expectedRows"/>.</exception>
    public static Dataset Parse(Stream gzipCsv, string name, int? expectedRows = null)
    {
        ArgumentNullException.ThrowIfNull(gzipCsv);
        using var gzip = new GZipStream(gzipCsv, CompressionMode.Decompress, leaveOpen: true);
        using var reader = new StreamReader(gzip);
        var features = new List<float>(SampleCount * 64);
        var labels = new List<int>(SampleCount);
        string? line;
        int lineNumber = 0;
        while ((line = reader.ReadLine()) is not null)
        {
            lineNumber++;
            if (line.Length == 0)
            {
                continue;
            }

            var fields = line.Split(',');
            if (fields.Length != 65)
            {
                throw new InvalidDataException($"{name}, line {lineNumber}: {fields.Length} fields, expected 65 (64 pixels and a label).");
            }

            for (int j = 0; j < 65; j++)
            {
                if (!int.TryParse(fields[j], NumberStyles.None, CultureInfo.InvariantCulture, out int v) || v > (j < 64 ? 16 : 9))
                {
                    throw new InvalidDataException($"{name}, line {lineNumber}, field {j + 1}: '{fields[j]}' is not an integer in {(j < 64 ? "0..16" : "0..9")}.");
                }

                if (j < 64)
                {
                    features.Add(v / 16f);
                }
                else
                {
                    labels.Add(v);
                }
            }
        }

        if (expectedRows is int rows && labels.Count != rows)
        {
            throw new InvalidDataException($"{name}: {labels.Count} rows, expected {rows}.");
        }

        return new Dataset(name, new ImageShape(1, 8, 8), 10, [.. features], [.. labels]);
    }
}
