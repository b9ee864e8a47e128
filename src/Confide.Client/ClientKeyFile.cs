using System.Security.Cryptography;
using Confide.Randomness;
using Confide.SecureAggregation;

namespace Confide.Client;

/// <summary>
/// The client's identity key on disk: the raw 32-byte Ed25519 seed in a file created with mode 0600 (owner read and
/// write only). Loading refuses a file that group or others can read, as ssh does, because such a key may be copied.
/// </summary>
public static class ClientKeyFile
{
    /// <summary>Creates a new key file at <paramref name="path"/> (which must not exist) and returns the key (which can export its seed).</summary>
    public static IdentityKeyPair Create(string path, IRandomSource random)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(random);
        var key = IdentityKeyPair.Generate(random, allowSeedExport: true);
        var seed = new byte[IdentityKeyPair.PrivateSeedSize];
        try
        {
            key.ExportPrivateSeed(seed);
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            string? directory = Path.GetDirectoryName(Path.GetFullPath(path));
            if (directory is not null)
            {
                Directory.CreateDirectory(directory);
            }

            using var stream = new FileStream(path, options);
            stream.Write(seed);
            stream.Flush(flushToDisk: true);
            return key;
        }
        catch
        {
            key.Dispose();
            throw;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(seed);
        }
    }

    /// <summary>Loads the key in <paramref name="path"/> (it cannot export its seed again: the file already holds it).</summary>
    /// <exception cref="InvalidDataException">The file is readable by group or others, or is not 32 bytes.</exception>
    public static IdentityKeyPair Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!OperatingSystem.IsWindows())
        {
            var mode = File.GetUnixFileMode(path);
            const UnixFileMode open = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
                | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;
            if ((mode & open) != 0)
            {
                throw new InvalidDataException($"The key file '{path}' is accessible by group or others (mode {Convert.ToString((int)mode, 8)}); it must be 0600.");
            }
        }

        byte[] seed = File.ReadAllBytes(path);
        try
        {
            if (seed.Length != IdentityKeyPair.PrivateSeedSize)
            {
                throw new InvalidDataException($"The key file '{path}' holds {seed.Length} bytes; a key file holds a {IdentityKeyPair.PrivateSeedSize}-byte Ed25519 seed.");
            }

            return IdentityKeyPair.ImportPrivateSeed(seed);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(seed);
        }
    }

    /// <summary>Loads the key in <paramref name="path"/>, creating it first if the file does not exist.</summary>
    public static IdentityKeyPair LoadOrCreate(string path, IRandomSource random, out bool created)
    {
        created = !File.Exists(path);
        return created ? Create(path, random) : Load(path);
    }
}
