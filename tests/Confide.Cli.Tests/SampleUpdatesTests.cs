namespace Confide.Cli.Tests;

public sealed class SampleUpdatesTests
{
    /// <summary>
    /// The committed samples are exactly what <see cref="SampleUpdates"/> produces. To regenerate them after changing the
    /// values: <c>CONFIDE_REGENERATE_SAMPLES=1 dotnet test tests/Confide.Cli.Tests --filter SampleUpdates</c>.
    /// </summary>
    [Fact]
    public void CommittedSamplesMatchTheGenerator()
    {
        string dir = Confide.Testing.RepositoryFiles.Path("samples", "updates");
        bool regenerate = Environment.GetEnvironmentVariable("CONFIDE_REGENERATE_SAMPLES") == "1";
        foreach (var (file, values) in SampleUpdates.Files)
        {
            byte[] expected = SampleUpdates.Bytes(file, values);
            string path = Path.Combine(dir, file);
            if (regenerate)
            {
                Directory.CreateDirectory(dir);
                File.WriteAllBytes(path, expected);
            }

            Assert.True(File.Exists(path), $"{path} is missing; regenerate the samples.");
            Assert.Equal(expected, File.ReadAllBytes(path));
        }
    }

    [Fact]
    public void KrumOnTheSamplesExcludesTheOutlier()
    {
        string dir = Confide.Testing.RepositoryFiles.Path("samples", "updates");
        string output = Path.Combine(Path.GetTempPath(), $"confide-sample-{Guid.NewGuid():N}.safetensors");
        try
        {
            string[] inputs = [.. Enumerable.Range(1, 5).Select(i => Path.Combine(dir, $"client{i}.safetensors"))];
            var (code, stdout, stderr) = CliRunner.Run(["aggregate", "--method", "krum", "--byzantine", "1", "--output", output, "--json", .. inputs]);
            Assert.True(code == 0, stderr);
            using var doc = System.Text.Json.JsonDocument.Parse(stdout);
            Assert.Contains(4, doc.RootElement.GetProperty("flagged").EnumerateArray().Select(e => e.GetInt32()));
            Assert.DoesNotContain(4, doc.RootElement.GetProperty("selected").EnumerateArray().Select(e => e.GetInt32()));
        }
        finally
        {
            File.Delete(output);
        }
    }
}
