using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace Confide.Cli.Federation;

/// <summary>
/// The floor a networked round is compared with: the wall time to push a given number of bytes from one end of a
/// single loopback TCP connection to the other, in 1 MiB writes, with no processing at either end. Over TLS the
/// connection is a TLS 1.3 <see cref="SslStream"/> with the server's certificate, so the floor includes the same
/// encryption and decryption the round pays (sender and receiver share this machine's cores, as in the benchmark).
/// The handshake is made before the clock starts.
/// </summary>
internal static class RawLoopbackTransfer
{
    private const int WriteSize = 1 << 20;

    /// <summary>Seconds to move <paramref name="bytes"/> over plain TCP.</summary>
    public static async Task<double> TcpSecondsAsync(long bytes, CancellationToken cancellationToken) =>
        await MeasureAsync(bytes, certificate: null, cancellationToken).ConfigureAwait(false);

    /// <summary>Seconds to move <paramref name="bytes"/> over TLS with <paramref name="certificate"/>.</summary>
    public static async Task<double> TlsSecondsAsync(long bytes, X509Certificate2 certificate, CancellationToken cancellationToken) =>
        await MeasureAsync(bytes, certificate, cancellationToken).ConfigureAwait(false);

    private static async Task<double> MeasureAsync(long bytes, X509Certificate2? certificate, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var sender = new TcpClient { NoDelay = true };
        var accepting = listener.AcceptTcpClientAsync(cancellationToken).AsTask();
        await sender.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port, cancellationToken).ConfigureAwait(false);
        using var receiver = await accepting.ConfigureAwait(false);

        Stream sendStream = sender.GetStream();
        Stream receiveStream = receiver.GetStream();
        if (certificate is not null)
        {
            var server = new SslStream(receiveStream, leaveInnerStreamOpen: false);
            // Loopback to ourselves with the certificate just loaded: there is nothing to verify.
            var client = new SslStream(sendStream, leaveInnerStreamOpen: false, (_, _, _, _) => true);
            await Task.WhenAll(
                server.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = certificate, EnabledSslProtocols = SslProtocols.Tls13 }, cancellationToken),
                client.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost", EnabledSslProtocols = SslProtocols.Tls13 }, cancellationToken)).ConfigureAwait(false);
            receiveStream = server;
            sendStream = client;
        }

        await using (sendStream.ConfigureAwait(false))
        await using (receiveStream.ConfigureAwait(false))
        {
            var clock = Stopwatch.StartNew();
            var receiving = Task.Run(() => DrainAsync(receiveStream, cancellationToken), cancellationToken);
            var chunk = new byte[WriteSize];
            for (long sent = 0; sent < bytes; sent += chunk.Length)
            {
                await sendStream.WriteAsync(chunk.AsMemory(0, (int)Math.Min(chunk.Length, bytes - sent)), cancellationToken).ConfigureAwait(false);
            }

            if (sendStream is SslStream ssl)
            {
                await ssl.ShutdownAsync().ConfigureAwait(false);
            }

            sender.Client.Shutdown(SocketShutdown.Send);
            long received = await receiving.ConfigureAwait(false);
            clock.Stop();
            if (received != bytes)
            {
                throw new InvalidOperationException($"The raw transfer moved {received} of {bytes} bytes.");
            }

            return clock.Elapsed.TotalSeconds;
        }
    }

    private static async Task<long> DrainAsync(Stream stream, CancellationToken cancellationToken)
    {
        var buffer = new byte[WriteSize];
        long total = 0;
        int read;
        while ((read = await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
        {
            total += read;
        }

        return total;
    }
}
