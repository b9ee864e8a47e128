namespace Confide.Cli.Tests;

public sealed class VersionCommandTests
{
    [Fact]
    public void VersionPrintsName()
    {
        var (code, stdout, _) = CliRunner.Run("version");
        Assert.Equal(0, code);
        Assert.StartsWith("confide ", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownCommandFails()
    {
        var (code, _, stderr) = CliRunner.Run("no-such-command");
        Assert.NotEqual(0, code);
        Assert.False(string.IsNullOrWhiteSpace(stderr));
    }
}
