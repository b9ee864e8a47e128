namespace Confide.Client;

/// <summary>Where the server is and how to trust it. Validated where built.</summary>
public sealed record FederationClientOptions
{
    /// <summary>Creates the options.</summary>
    /// <param name="address">https://host:port (or http://127.0.0.1:port with <paramref name="insecure"/>).</param>
    /// <param name="pinnedFingerprint">The hex SHA-256 of the server certificate the operator printed; required for https.</param>
    /// <param name="insecure">Plain HTTP/2 without TLS; allowed only to a loopback address.</param>
    public FederationClientOptions(Uri address, string? pinnedFingerprint, bool insecure = false)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (insecure)
        {
            if (address.Scheme != Uri.UriSchemeHttp || !address.IsLoopback)
            {
                throw new ArgumentException($"Insecure (no TLS) connections are allowed only to an http:// loopback address, not to {address}.", nameof(address));
            }
        }
        else
        {
            if (address.Scheme != Uri.UriSchemeHttps)
            {
                throw new ArgumentException($"The server address must be https:// (got {address}); plain HTTP needs --insecure and a loopback server.", nameof(address));
            }

            string fingerprint = (pinnedFingerprint ?? "").Replace(":", "", StringComparison.Ordinal).ToLowerInvariant();
            if (fingerprint.Length != 64 || !fingerprint.All(Uri.IsHexDigit))
            {
                throw new ArgumentException("A TLS connection needs the server certificate's SHA-256 fingerprint (64 hex digits) to pin.", nameof(pinnedFingerprint));
            }

            PinnedFingerprint = Convert.FromHexString(fingerprint);
        }

        Address = address;
        Insecure = insecure;
    }

    /// <summary>The server address.</summary>
    public Uri Address { get; }

    /// <summary>The pinned certificate fingerprint, or null when insecure.</summary>
    public byte[]? PinnedFingerprint { get; }

    /// <summary>True for plain HTTP/2 on loopback.</summary>
    public bool Insecure { get; }

    /// <summary>The deadline of each unary call.</summary>
    public TimeSpan CallTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The deadline of a model download or an update upload.</summary>
    public TimeSpan TransferTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>The largest model the client agrees to download.</summary>
    public long MaxModelBytes { get; init; } = 2L << 30;
}
