using System.Text.Json;
using Confide.Parameters;

namespace Confide.Cli.Tests;

public sealed class AggregateCommandTests : IDisposable
{
    private static readonly ParameterLayout Layout = ParameterLayout.Create(("fc.weight", [3, 2]), ("fc.bias", [2]));

    private readonly string _dir = Directory.CreateTempSubdirectory("confide-aggregate-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Out => Path.Combine(_dir, "out.safetensors");

    private string Save(string name, ModelParameters p)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, Safetensors.Write(p));
        return path;
    }

    private string Save(string name, params float[] values) => Save(name, new ModelParameters(Layout, values));

    /// <summary>Four honest updates near (1, …, 8) and one far outlier, last.</summary>
    private string[] Clients()
    {
        var paths = new List<string>();
        for (int c = 0; c < 4; c++)
        {
            paths.Add(Save($"c{c}.safetensors", [.. Enumerable.Range(1, 8).Select(i => i + (0.01f * c))]));
        }

        paths.Add(Save("evil.safetensors", [.. Enumerable.Repeat(-100f, 8)]));
        return [.. paths];
    }

    private static float[] ReadValues(string path) => Safetensors.Read(File.ReadAllBytes(path)).Parameters.AsSpan().ToArray();

    [Fact]
    public void KrumJsonReportsSelectedAndFlaggedByInputIndex()
    {
        string[] inputs = Clients();
        var (code, stdout, stderr) = CliRunner.Run(["aggregate", "--method", "krum", "--byzantine", "1", "--output", Out, "--json", .. inputs]);
        Assert.True(code == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        var root = doc.RootElement;
        Assert.Equal("krum", root.GetProperty("method").GetString());
        Assert.Equal(5, root.GetProperty("clients").GetInt32());
        int chosen = Assert.Single(root.GetProperty("selected").EnumerateArray()).GetInt32();
        Assert.InRange(chosen, 0, 3);
        var flagged = root.GetProperty("flagged").EnumerateArray().Select(e => e.GetInt32()).ToList();
        Assert.Contains(4, flagged);
        Assert.DoesNotContain(chosen, flagged);
        Assert.Equal(flagged.Count, root.GetProperty("reasons").GetArrayLength());
        Assert.Equal(5, root.GetProperty("scores").GetArrayLength());

        // Krum returns the chosen input unchanged, under the same names and shapes.
        var output = Safetensors.Read(File.ReadAllBytes(Out));
        Assert.Equal(Layout, output.Parameters.Layout);
        Assert.Equal(ReadValues(inputs[chosen]), output.Parameters.AsSpan().ToArray());
        Assert.Equal("krum", output.Metadata["confide.method"]);
    }

    [Fact]
    public void MedianIsCoordinateWise()
    {
        string a = Save("a.safetensors", 1, 2, 3, 4, 5, 6, 7, 8);
        string b = Save("b.safetensors", 3, 0, 3, 9, 5, 1, 7, -8);
        string c = Save("c.safetensors", 2, 1, 0, 4, -5, 6, 70, 8);
        var (code, stdout, stderr) = CliRunner.Run("aggregate", "--method", "median", "--output", Out, a, b, c);
        Assert.True(code == 0, stderr);
        Assert.StartsWith("median: 3 inputs", stdout, StringComparison.Ordinal);
        Assert.Equal([2f, 1, 3, 4, 5, 6, 7, 8], ReadValues(Out));
    }

    [Fact]
    public void FedAvgUsesTheWeightsAsSampleCounts()
    {
        string a = Save("a.safetensors", 0, 0, 0, 0, 0, 0, 0, 0);
        string b = Save("b.safetensors", 4, 4, 4, 4, 4, 4, 4, 8);
        var (code, _, stderr) = CliRunner.Run("aggregate", "--method", "fedavg", "--weights", "3,1", "--output", Out, a, b);
        Assert.True(code == 0, stderr);
        Assert.Equal([1f, 1, 1, 1, 1, 1, 1, 2], ReadValues(Out));
    }

    [Fact]
    public void LaterFilesMayListTheTensorsInAnotherOrder()
    {
        string a = Save("a.safetensors", 1, 2, 3, 4, 5, 6, 7, 8);
        var reordered = ParameterLayout.Create(("fc.bias", [2]), ("fc.weight", [3, 2]));
        string b = Save("b.safetensors", new ModelParameters(reordered, [7, 8, 1, 2, 3, 4, 5, 6]));
        var (code, _, stderr) = CliRunner.Run("aggregate", "--method", "fedavg", "--output", Out, a, b);
        Assert.True(code == 0, stderr);
        Assert.Equal([1f, 2, 3, 4, 5, 6, 7, 8], ReadValues(Out));
    }

    [Fact]
    public void FlTrustReadsTheServerUpdate()
    {
        string[] inputs = Clients();
        string server = Save("server.safetensors", 1, 2, 3, 4, 5, 6, 7, 8);
        var (code, stdout, stderr) = CliRunner.Run(["aggregate", "--method", "fltrust", "--server-update", server, "--output", Out, "--json", .. inputs]);
        Assert.True(code == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        Assert.Contains(4, doc.RootElement.GetProperty("flagged").EnumerateArray().Select(e => e.GetInt32()));
    }

    // ---------- bad input: non-zero exit, one line, naming the file ----------

    [Fact]
    public void MismatchedLayoutNamesTheFile()
    {
        string a = Save("a.safetensors", 1, 2, 3, 4, 5, 6, 7, 8);
        string b = Save("b.safetensors", ModelParameters.Zeros(ParameterLayout.Create(("fc.weight", [2, 3]), ("fc.bias", [2]))));
        string error = Fails("aggregate", "--method", "fedavg", "--output", Out, a, b);
        Assert.Contains($"{b}: its tensors differ from those of {a}", error, StringComparison.Ordinal);
        Assert.Contains("fc.weight expected [3,2] got [2,3]", error, StringComparison.Ordinal);
    }

    [Fact]
    public void NaNIsRejectedByTheValidator()
    {
        string a = Save("a.safetensors", 1, 2, 3, 4, 5, 6, 7, 8);
        string b = Save("b.safetensors", 1, 2, 3, float.NaN, 5, 6, 7, 8);
        string error = Fails("aggregate", "--method", "median", "--output", Out, a, b);
        Assert.Contains($"{b}: tensor 'fc.weight' element 3 is NaN", error, StringComparison.Ordinal);
    }

    [Fact]
    public void AWeightBeyondWhatADoubleHoldsExactlyIsRejected()
    {
        string a = Save("a.safetensors", 1, 2, 3, 4, 5, 6, 7, 8);
        string b = Save("b.safetensors", 8, 7, 6, 5, 4, 3, 2, 1);
        string error = Fails("aggregate", "--method", "fedavg", "--weights", "1,9007199254740993", "--output", Out, a, b);
        Assert.Contains("sample count 9007199254740993 exceeds the bound 9007199254740992", error, StringComparison.Ordinal);
        Assert.False(File.Exists(Out));
    }

    [Fact]
    public void TooFewInputsForF()
    {
        string error = Fails(["aggregate", "--method", "krum", "--byzantine", "2", "--output", Out, .. Clients()]);
        Assert.Contains("krum with f = 2 needs at least 7 inputs, got 5", error, StringComparison.Ordinal);
    }

    [Fact]
    public void BulyanNeedsFourFPlusThree()
    {
        string error = Fails(["aggregate", "--method", "bulyan", "--byzantine", "1", "--output", Out, .. Clients()]);
        Assert.Contains("needs at least 7 inputs", error, StringComparison.Ordinal);
    }

    [Fact]
    public void MalformedFileNamesTheFileAndTheProblem()
    {
        string a = Save("a.safetensors", 1, 2, 3, 4, 5, 6, 7, 8);
        string bad = Path.Combine(_dir, "bad.safetensors");
        File.WriteAllBytes(bad, [5, 0, 0, 0, 0, 0, 0, 0, (byte)'{', (byte)'"', (byte)'x', (byte)'"', (byte)':']);
        string error = Fails("aggregate", "--method", "fedavg", "--output", Out, a, bad);
        Assert.Contains($"{bad}: The safetensors header", error, StringComparison.Ordinal);
    }

    [Fact]
    public void MissingFileIsNamed()
    {
        string a = Save("a.safetensors", 1, 2, 3, 4, 5, 6, 7, 8);
        string missing = Path.Combine(_dir, "nope.safetensors");
        Assert.Contains($"{missing}: no such file", Fails("aggregate", "--method", "fedavg", "--output", Out, a, missing), StringComparison.Ordinal);
    }

    [Fact]
    public void WeightsCountMismatch()
    {
        string error = Fails(["aggregate", "--method", "fedavg", "--weights", "1,2", "--output", Out, .. Clients()]);
        Assert.Contains("--weights has 2 value(s) for 5 input file(s)", error, StringComparison.Ordinal);
    }

    [Fact]
    public void WeightsMustBePositiveWholeNumbers()
    {
        string error = Fails(["aggregate", "--method", "fedavg", "--weights", "1,2,0,4,5", "--output", Out, .. Clients()]);
        Assert.Contains("--weights value 3 is '0'", error, StringComparison.Ordinal);
    }

    [Fact]
    public void FlTrustWithoutServerUpdate() =>
        Assert.Contains("fltrust needs --server-update", Fails(["aggregate", "--method", "fltrust", "--output", Out, .. Clients()]), StringComparison.Ordinal);

    [Fact]
    public void MultiKrumWithoutSelect() =>
        Assert.Contains("multi-krum needs --select", Fails(["aggregate", "--method", "multi-krum", "--byzantine", "1", "--output", Out, .. Clients()]), StringComparison.Ordinal);

    [Fact]
    public void OptionsThatDoNotApplyAreRefused()
    {
        Assert.Contains("--select applies only to multi-krum", Fails(["aggregate", "--method", "krum", "--select", "2", "--output", Out, .. Clients()]), StringComparison.Ordinal);
        Assert.Contains("--byzantine applies only to", Fails(["aggregate", "--method", "median", "--byzantine", "1", "--output", Out, .. Clients()]), StringComparison.Ordinal);
        Assert.Contains("--weights applies only to fedavg and geometric-median", Fails(["aggregate", "--method", "krum", "--weights", "1,1,1,1,1", "--output", Out, .. Clients()]), StringComparison.Ordinal);
        Assert.Contains("--trim-ratio applies only to trimmed-mean", Fails(["aggregate", "--method", "median", "--trim-ratio", "0.2", "--output", Out, .. Clients()]), StringComparison.Ordinal);
    }

    [Fact]
    public void TrimRatioOutOfRange() =>
        Assert.Contains("trim ratio β must be in [0, 0.5]", Fails(["aggregate", "--method", "trimmed-mean", "--trim-ratio", "0.7", "--output", Out, .. Clients()]), StringComparison.Ordinal);

    [Fact]
    public void BadServerUpdateIsNamed()
    {
        string server = Save("server.safetensors", ModelParameters.Zeros(ParameterLayout.Create(("other", [8]))));
        string error = Fails(["aggregate", "--method", "fltrust", "--server-update", server, "--output", Out, .. Clients()]);
        Assert.Contains($"{server}: its tensors differ", error, StringComparison.Ordinal);
    }

    [Fact]
    public void TheSameFileTwiceIsADuplicateClient()
    {
        string a = Save("a.safetensors", 1, 2, 3, 4, 5, 6, 7, 8);
        string b = Save("b.safetensors", 1, 2, 3, 4, 5, 6, 7, 8);
        string error = Fails("aggregate", "--method", "median", "--output", Out, a, b, a);
        Assert.Contains($"{a}: client id '{a}' appears 2 times in this batch (updates 0, 2)", error, StringComparison.Ordinal);
    }

    [Fact]
    public void UnwritableOutputIsNamed()
    {
        string a = Save("a.safetensors", 1, 2, 3, 4, 5, 6, 7, 8);
        string output = Path.Combine(_dir, "no-such-dir", "out.safetensors");
        var (code, _, stderr) = CliRunner.Run("aggregate", "--method", "fedavg", "--output", output, a);
        Assert.NotEqual(0, code);
        Assert.StartsWith($"confide: error: {output}: cannot write the output", stderr, StringComparison.Ordinal);
    }

    /// <summary>Runs the CLI expecting failure: non-zero exit, one "confide: error:" line, no stack trace, no output file.</summary>
    private string Fails(params string[] args)
    {
        var (code, stdout, stderr) = CliRunner.Run(args);
        Assert.NotEqual(0, code);
        string[] lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one line, got: {stderr}");
        Assert.StartsWith("confide: error: ", lines[0], StringComparison.Ordinal);
        Assert.DoesNotContain(" at Confide", stderr, StringComparison.Ordinal);
        Assert.Equal("", stdout);
        Assert.False(File.Exists(Out), "no output is written on failure");
        return lines[0];
    }
}
