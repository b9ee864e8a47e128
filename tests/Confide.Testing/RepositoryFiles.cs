namespace Confide.Testing;

/// <summary>Files of the repository that tests read (sample updates, published test vectors).</summary>
public static class RepositoryFiles
{
    /// <summary>The repository root: the nearest ancestor of the test binaries that holds Confide.slnx.</summary>
    public static string Root()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Confide.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Confide.slnx not found above the test binaries.");
    }

    /// <summary>The path of a file given relative to the repository root.</summary>
    public static string Path(params string[] parts) => System.IO.Path.Combine([Root(), .. parts]);
}
