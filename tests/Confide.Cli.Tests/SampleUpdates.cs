using Confide.Parameters;

namespace Confide.Cli.Tests;

/// <summary>
/// The sample updates shipped in samples/updates/ for the README: five clients over a 3×2 weight and a 2-bias layout,
/// four honest ones close together and one outlier, plus a server (root data set) update for fltrust. The values are
/// written here, in code, and <see cref="SampleUpdatesTests"/> checks the committed files are exactly these.
/// </summary>
internal static class SampleUpdates
{
    public static readonly ParameterLayout Layout = ParameterLayout.Create(("fc.weight", [3, 2]), ("fc.bias", [2]));

    /// <summary>File name → values (fc.weight row-major, then fc.bias).</summary>
    public static readonly IReadOnlyList<(string File, float[] Values)> Files =
    [
        ("client1.safetensors", [0.10f, -0.20f, 0.05f, 0.30f, -0.10f, 0.00f, 0.01f, -0.02f]),
        ("client2.safetensors", [0.12f, -0.18f, 0.04f, 0.28f, -0.12f, 0.02f, 0.02f, -0.01f]),
        ("client3.safetensors", [0.09f, -0.22f, 0.06f, 0.31f, -0.09f, -0.01f, 0.00f, -0.03f]),
        ("client4.safetensors", [0.11f, -0.19f, 0.05f, 0.29f, -0.11f, 0.01f, 0.01f, -0.02f]),

        // The outlier: a scaled, sign-flipped update, as a Byzantine client might send.
        ("client5.safetensors", [-5.0f, 4.0f, -3.0f, -6.0f, 5.0f, 2.0f, -1.0f, 1.0f]),

        // The server's update on its root data set, for --method fltrust.
        ("server.safetensors", [0.105f, -0.2f, 0.05f, 0.295f, -0.105f, 0.005f, 0.01f, -0.02f]),
    ];

    public static byte[] Bytes(string file, float[] values) =>
        Safetensors.Write(
            new ModelParameters(Layout, (float[])values.Clone()),
            new Dictionary<string, string> { ["description"] = $"confide sample update {Path.GetFileNameWithoutExtension(file)}; see samples/updates/README.md" });
}
