using Confide.Aggregation;
using Confide.Client;
using Confide.Parameters;
using Confide.Protocol.Rounds;
using Confide.Randomness;
using Confide.SecureAggregation;
using Confide.Server;

namespace Confide.Server.Tests;

/// <summary>Shared set-up: a temporary state folder, a small model, fast server settings, enrolled clients.</summary>
internal sealed class TestFederation : IAsyncDisposable
{
    public static readonly ParameterLayout Layout = ParameterLayout.Create(("dense.weight", [3, 4]), ("dense.bias", [3]));

    private readonly List<IDisposable> _owned = [];

    public TestFederation()
    {
        StateDirectory = Path.Combine(Path.GetTempPath(), "confide-server-tests-" + Guid.NewGuid().ToString("N"));
    }

    public string StateDirectory { get; }

    public ConfideServer? Server { get; private set; }

    public static ModelParameters InitialModel()
    {
        var values = new float[Layout.TotalLength];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = 0.05f * ((i % 5) - 2);
        }

        return new ModelParameters(Layout, values);
    }

    public static RoundOptions Rounds(long rounds, int clients, TimeSpan? deadline = null, int? minUpdates = null, string aggregator = "fedavg") =>
        new(rounds, ClientSampling.OfCount(clients), deadline ?? TimeSpan.FromSeconds(20), minUpdates ?? clients, new AggregatorSettings(aggregator), serverLearningRate: 1.0, maxSampleCount: 10_000);

    public static ServerOptions Options(string state, RoundOptions rounds, bool insecure = false) =>
        new(state, rounds, InitialModel())
        {
            Port = 0,
            Insecure = insecure,
            TickInterval = TimeSpan.FromMilliseconds(20),
            RetryAfter = TimeSpan.FromMilliseconds(40),
        };

    public async Task<ConfideServer> StartAsync(RoundOptions rounds, bool insecure = false)
    {
        Server = await ConfideServer.StartAsync(Options(StateDirectory, rounds, insecure));
        return Server;
    }

    public async Task<ConfideServer> StartAsync(ServerOptions options, Confide.Privacy.IGaussianNoise? noise)
    {
        Server = await ConfideServer.StartAsync(options, noise: noise);
        return Server;
    }

    public async Task StopAsync()
    {
        if (Server is not null)
        {
            await Server.DisposeAsync();
            Server = null;
        }
    }

    public FederationClient Connect(IdentityKeyPair key, string? clientId = null, Confide.Time.ISystemClock? clock = null)
    {
        var options = Server!.CertificateFingerprint is null
            ? new FederationClientOptions(Server.Address, null, insecure: true)
            : new FederationClientOptions(Server.Address, Server.CertificateFingerprint);
        // Short deadlines: no test may wait long on a call that went wrong.
        options = options with { CallTimeout = TimeSpan.FromSeconds(10), TransferTimeout = TimeSpan.FromSeconds(20) };
        var client = new FederationClient(options, key, clientId, clock);
        _owned.Add(client);
        return client;
    }

    public async Task<(FederationClient Client, IdentityKeyPair Key)> EnrollAsync(int seed)
    {
        var key = IdentityKeyPair.Generate(new SeededRandomSource((ulong)(1000 + seed)));
        _owned.Add(key);
        var client = Connect(key);
        await client.EnrollAsync(Server!.IssueToken(), $"test-{seed}");
        return (client, key);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        foreach (var d in _owned)
        {
            d.Dispose();
        }

        try
        {
            Directory.Delete(StateDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
