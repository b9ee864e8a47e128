using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Confide.Cli.Federation;

/// <summary>
/// The second floor a networked round is compared with: the round's own bytes moved the round's own way, with nothing
/// else. The benchmark process listens; child processes (as many as the round's client processes) open one connection
/// per client (TLS 1.3 with the server's certificate, or plain TCP), and on every connection at once the parent sends
/// one model's worth of bytes and the child sends the same number back after receiving them: a download and an upload
/// per client, like a round, with no HTTP/2, gRPC, signatures, validation, storage or aggregation. Connections and
/// handshakes are made, and untimed warm-up exchanges run, before the clock starts. <see cref="RawLoopbackTransfer"/> is the stricter floor: all the bytes
/// through one connection inside one process.
/// </summary>
internal static class RawRoundTransfer
{
    private const int BufferSize = 1 << 20;
    private const string Ready = "ready";
    private static readonly TimeSpan SetupTimeout = TimeSpan.FromMinutes(2);

    /// <summary>
    /// Seconds for each of <paramref name="repeats"/> exchanges of <paramref name="bytesEachWay"/> per connection over
    /// <paramref name="connections"/> connections from <paramref name="processes"/> child processes, after
    /// <paramref name="warmUps"/> untimed exchanges (the peers are fresh processes: their transfer code must reach its
    /// final JIT tier first, as a round's clients have long done when it is compared with them).
    /// </summary>
    public static async Task<double[]> SecondsAsync(int connections, int processes, long bytesEachWay, int warmUps, int repeats, X509Certificate2? certificate, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(warmUps);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(connections);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytesEachWay);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(repeats);
        processes = Math.Clamp(processes, 1, connections);
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start(connections);
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        string? fingerprint = certificate is null ? null : Convert.ToHexStringLower(SHA256.HashData(certificate.RawData));

        var children = new List<Process>();
        var streams = new List<Stream>();

        // Starting the peers, connecting and handshaking must not wait forever on a peer that failed to start.
        using var setup = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        setup.CancelAfter(SetupTimeout);
        try
        {
            for (int p = 0; p < processes; p++)
            {
                int count = (connections / processes) + (p < connections % processes ? 1 : 0);
                children.Add(StartPeer(port, count, bytesEachWay, warmUps + repeats, fingerprint));
            }

            for (int i = 0; i < connections; i++)
            {
                var client = await AcceptAsync(listener, setup, cancellationToken).ConfigureAwait(false);
                client.NoDelay = true;
                Stream stream = client.GetStream();
                if (certificate is not null)
                {
                    var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                    await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = certificate, EnabledSslProtocols = SslProtocols.Tls13 }, setup.Token).ConfigureAwait(false);
                    stream = ssl;
                }

                streams.Add(stream);
            }

            foreach (var child in children)
            {
                string? line = await child.StandardOutput.ReadLineAsync(setup.Token).ConfigureAwait(false);
                if (line != Ready)
                {
                    throw new InvalidOperationException($"A raw-transfer peer did not start: {(await child.StandardError.ReadToEndAsync(cancellationToken).ConfigureAwait(false)).Trim()}");
                }
            }

            double[] seconds = new double[repeats];
            for (int r = -warmUps; r < repeats; r++)
            {
                var clock = Stopwatch.StartNew();
                await Task.WhenAll(streams.Select(s => Task.Run(() => ExchangeAsync(s, bytesEachWay, sendFirst: true, cancellationToken), cancellationToken))).ConfigureAwait(false);
                if (r >= 0)
                {
                    seconds[r] = clock.Elapsed.TotalSeconds;
                }
            }

            foreach (var s in streams)
            {
                await s.DisposeAsync().ConfigureAwait(false);
            }

            streams.Clear();
            foreach (var child in children)
            {
                await child.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
                if (child.ExitCode != 0)
                {
                    throw new InvalidOperationException($"A raw-transfer peer failed ({child.ExitCode}): {(await child.StandardError.ReadToEndAsync(cancellationToken).ConfigureAwait(false)).Trim()}");
                }
            }

            return seconds;
        }
        finally
        {
            foreach (var s in streams)
            {
                await s.DisposeAsync().ConfigureAwait(false);
            }

            foreach (var child in children)
            {
                if (!child.HasExited)
                {
                    child.Kill(entireProcessTree: true);
                }

                child.Dispose();
            }
        }
    }

    private static async Task<TcpClient> AcceptAsync(TcpListener listener, CancellationTokenSource setup, CancellationToken cancellationToken)
    {
        try
        {
            return await listener.AcceptTcpClientAsync(setup.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"The raw-transfer peers did not all connect within {SetupTimeout.TotalMinutes:F0} minutes.");
        }
    }

    /// <summary>The hidden <c>raw-peers</c> subcommand a child runs: the client ends of <see cref="SecondsAsync"/>.</summary>
    public static Command CreatePeerCommand()
    {
        var port = new Option<int>("--port") { Required = true };
        var connections = new Option<int>("--connections") { Required = true };
        var bytes = new Option<long>("--bytes") { Required = true };
        var repeats = new Option<int>("--repeats") { Required = true };
        var fingerprint = new Option<string?>("--fingerprint") { Description = "The certificate's SHA-256 (hex); plain TCP when absent." };
        var command = new Command("raw-peers", "The client ends of `bench federation`'s raw round transfer (internal).") { Hidden = true };
        foreach (var o in new Option[] { port, connections, bytes, repeats, fingerprint })
        {
            command.Options.Add(o);
        }

        command.SetAction(async (parse, cancellationToken) =>
        {
            int n = parse.GetValue(connections), r = parse.GetValue(repeats), p = parse.GetValue(port);
            long each = parse.GetValue(bytes);
            string? pin = parse.GetValue(fingerprint);
            if (n < 1 || r < 1 || each < 1)
            {
                throw new CliException("--connections, --repeats and --bytes must be positive.", 2);
            }

            if (p is < 1 or > 65535)
            {
                throw new CliException("--port must be in 1..65535.", 2);
            }

            if (pin is not null && (pin.Length != 64 || !pin.All(char.IsAsciiHexDigit)))
            {
                throw new CliException("--fingerprint must be a SHA-256 in hex (64 characters).", 2);
            }

            var streams = new List<Stream>();
            try
            {
                for (int i = 0; i < n; i++)
                {
                    var client = new TcpClient { NoDelay = true };
                    await client.ConnectAsync(IPAddress.Loopback, p, cancellationToken);
                    Stream stream = client.GetStream();
                    if (pin is not null)
                    {
                        byte[] expected = Convert.FromHexString(pin);
                        var ssl = new SslStream(stream, leaveInnerStreamOpen: false, (_, certificate, _, _) =>
                            certificate is not null && CryptographicOperations.FixedTimeEquals(SHA256.HashData(certificate.GetRawCertData()), expected));
                        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost", EnabledSslProtocols = SslProtocols.Tls13 }, cancellationToken);
                        stream = ssl;
                    }

                    streams.Add(stream);
                }

                Console.Out.WriteLine(Ready);
                await Console.Out.FlushAsync(cancellationToken);
                for (int k = 0; k < r; k++) // the parent's untimed warm-ups included
                {
                    await Task.WhenAll(streams.Select(s => Task.Run(() => ExchangeAsync(s, each, sendFirst: false, cancellationToken), cancellationToken)));
                }
            }
            finally
            {
                foreach (var s in streams)
                {
                    await s.DisposeAsync();
                }
            }

            return 0;
        });
        return command;
    }

    private static Process StartPeer(int port, int connections, long bytes, int repeats, string? fingerprint)
    {
        List<string> arguments =
        [
            "raw-peers", "--port", port.ToString(CultureInfo.InvariantCulture), "--connections", connections.ToString(CultureInfo.InvariantCulture),
            "--bytes", bytes.ToString(CultureInfo.InvariantCulture), "--repeats", repeats.ToString(CultureInfo.InvariantCulture),
        ];
        if (fingerprint is not null)
        {
            arguments.AddRange(["--fingerprint", fingerprint]);
        }

        return Process.Start(BenchClientProcesses.ChildStartInfo(arguments)) ?? throw new CliException("could not start a raw-transfer peer process.", 1);
    }

    /// <summary>One download and one upload on <paramref name="stream"/>: the sender side writes first.</summary>
    private static async Task ExchangeAsync(Stream stream, long bytes, bool sendFirst, CancellationToken cancellationToken)
    {
        byte[] buffer = new byte[BufferSize];
        if (sendFirst)
        {
            await SendAsync(stream, buffer, bytes, cancellationToken).ConfigureAwait(false);
            await ReceiveAsync(stream, buffer, bytes, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await ReceiveAsync(stream, buffer, bytes, cancellationToken).ConfigureAwait(false);
            await SendAsync(stream, buffer, bytes, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task SendAsync(Stream stream, byte[] buffer, long bytes, CancellationToken cancellationToken)
    {
        for (long sent = 0; sent < bytes; sent += buffer.Length)
        {
            await stream.WriteAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, bytes - sent)), cancellationToken).ConfigureAwait(false);
        }

        await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task ReceiveAsync(Stream stream, byte[] buffer, long bytes, CancellationToken cancellationToken)
    {
        long received = 0;
        while (received < bytes)
        {
            int read = await stream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, bytes - received)), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                throw new EndOfStreamException($"The raw transfer moved {received} of {bytes} bytes on a connection.");
            }

            received += read;
        }
    }
}
