using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Confide.Server;

/// <summary>
/// The server's TLS certificate: supplied by the operator, or made on first start as a self-signed ECDSA P-256
/// certificate saved in the state folder (<c>server.pfx</c>, mode 0600). Clients pin its SHA-256 fingerprint.
/// </summary>
public static class ServerCertificate
{
    /// <summary>The file name of the generated certificate in the state folder.</summary>
    public const string FileName = "server.pfx";

    /// <summary>Loads <c>server.pfx</c> from <paramref name="stateDirectory"/>, creating it first when absent.</summary>
    /// <param name="stateDirectory">The state folder.</param>
    /// <param name="hostNames">DNS names to put in the subject alternative names (loopback addresses are always added).</param>
    /// <param name="created">True when the certificate was made now.</param>
    public static X509Certificate2 LoadOrCreate(string stateDirectory, IEnumerable<string> hostNames, out bool created)
    {
        ArgumentException.ThrowIfNullOrEmpty(stateDirectory);
        ArgumentNullException.ThrowIfNull(hostNames);
        string path = Path.Combine(stateDirectory, FileName);
        created = false;
        if (!File.Exists(path))
        {
            Directory.CreateDirectory(stateDirectory);
            byte[] pfx = CreateSelfSigned(hostNames);
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            using (var stream = new FileStream(path, options))
            {
                stream.Write(pfx);
                stream.Flush(flushToDisk: true);
            }

            CryptographicOperations.ZeroMemory(pfx);
            created = true;
        }

        return Load(path, password: null);
    }

    /// <summary>Loads a PKCS#12 file supplied by the operator.</summary>
    public static X509Certificate2 Load(string path, string? password)
    {
        var certificate = X509CertificateLoader.LoadPkcs12FromFile(path, password);
        if (!certificate.HasPrivateKey)
        {
            certificate.Dispose();
            throw new InvalidDataException($"The certificate in '{path}' has no private key; the server needs one to serve TLS.");
        }

        return certificate;
    }

    /// <summary>The lowercase hex SHA-256 of the certificate's DER encoding: what clients pin.</summary>
    public static string Fingerprint(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        return Convert.ToHexStringLower(SHA256.HashData(certificate.RawData));
    }

    private static byte[] CreateSelfSigned(IEnumerable<string> hostNames)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=confide-server", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(System.Net.IPAddress.Loopback);
        names.AddIpAddress(System.Net.IPAddress.IPv6Loopback);
        foreach (string host in hostNames.Where(h => !string.IsNullOrWhiteSpace(h)).Distinct(StringComparer.OrdinalIgnoreCase))
        {
            if (System.Net.IPAddress.TryParse(host, out var ip))
            {
                names.AddIpAddress(ip);
            }
            else
            {
                names.AddDnsName(host);
            }
        }

        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        var now = DateTimeOffset.UtcNow;
        using var certificate = request.CreateSelfSigned(now.AddMinutes(-5), now.AddYears(5));
        return certificate.Export(X509ContentType.Pkcs12);
    }
}
