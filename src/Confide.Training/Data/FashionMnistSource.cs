namespace Confide.Training.Data;

/// <summary>
/// Fashion-MNIST (Xiao, Rasul, Vollgraf 2017, "Fashion-MNIST: a Novel Image Dataset for Benchmarking Machine Learning
/// Algorithms"): 60,000 training and 10,000 test images of 28 × 28, ten classes, in IDX files. Read from a directory,
/// by default where Debian's <c>dataset-fashion-mnist</c> package puts them.
/// </summary>
public static class FashionMnistSource
{
    /// <summary>Where Debian's <c>dataset-fashion-mnist</c> package installs the files.</summary>
    public const string DefaultDirectory = "/usr/share/datasets/fashion-mnist";

    /// <summary>The four files, without their optional <c>.gz</c> suffix.</summary>
    public static IReadOnlyList<string> FileNames { get; } =
        ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];

    /// <summary>Loads the training and test sets from <paramref name="directory"/> (default <see cref="DefaultDirectory"/>).</summary>
    /// <exception cref="FileNotFoundException">A file is missing; the message says how to install the data set.</exception>
    /// <exception cref="InvalidDataException">A file is malformed.</exception>
    public static (Dataset Train, Dataset Test) Load(string? directory = null)
    {
        directory ??= DefaultDirectory;
        var paths = FileNames.Select(f => Find(directory, f)).ToArray();
        var missing = FileNames.Where((_, i) => paths[i] is null).ToList();
        if (missing.Count > 0)
        {
            throw new FileNotFoundException(
                $"Fashion-MNIST is not in '{directory}' (missing {string.Join(", ", missing.Select(m => m + "[.gz]"))}). " +
                "Install it with `apt-get install dataset-fashion-mnist`, or pass --data-dir with a directory holding the four IDX files.");
        }

        var train = IdxReader.ReadImagesAndLabels(paths[0]!, paths[1]!, 10, "fashion-mnist/train");
        var test = IdxReader.ReadImagesAndLabels(paths[2]!, paths[3]!, 10, "fashion-mnist/test");
        return (train, test);
    }

    private static string? Find(string directory, string name)
    {
        string gz = Path.Combine(directory, name + ".gz");
        if (File.Exists(gz))
        {
            return gz;
        }

        string raw = Path.Combine(directory, name);
        return File.Exists(raw) ? raw : null;
    }
}
