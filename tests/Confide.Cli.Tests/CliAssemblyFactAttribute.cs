namespace Confide.Cli.Tests;

/// <summary>A fact that is skipped, with the reason, when the built CLI assembly is not next to the tests.</summary>
public sealed class CliAssemblyFactAttribute : FactAttribute
{
    public CliAssemblyFactAttribute()
    {
        string path = ServerProcessKillTests.CliAssembly;
        if (!File.Exists(path) || !File.Exists(Path.ChangeExtension(path, ".runtimeconfig.json")))
        {
            Skip = $"the CLI assembly confide.dll (with its runtimeconfig) was not found next to the tests in {AppContext.BaseDirectory}; build src/Confide.Cli first";
        }
    }
}
