using BenchmarkDotNet.Attributes;
using Confide.Server;

namespace Confide.Benchmarks;

/// <summary>
/// The replay check of every signed request (<see cref="StateStore.TryUseNonce"/>: delete the expired nonces, insert
/// this one) with an empty table and with a full timestamp window in it: 60,000 nonces is five minutes at 200 requests
/// a second, what 100 clients exchanging 1M-parameter models keep a server at.
/// Run with: dotnet run -c Release --project bench/Confide.Benchmarks -- --filter '*NonceBenchmarks*' --job short
/// </summary>
public class NonceBenchmarks
{
    private const long Now = 1_800_000_000_000;
    private const long WindowMs = 300_000;
    private string _directory = "";
    private StateStore? _store;
    private long _next;

    [Params(0, 60_000)]
    public int Stored { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _directory = Path.Combine(Path.GetTempPath(), "confide-nonce-bench-" + Guid.NewGuid().ToString("N"));
        _store = StateStore.Open(_directory);
        for (int i = 0; i < Stored; i++)
        {
            // Still inside the window at the benchmark's "now", so the delete finds nothing to remove: only the search counts.
            _store.TryUseNonce("c" + (i % 100), "stored-" + i, Now, Now + WindowMs);
        }
    }

    [Benchmark]
    public bool UseNonce() => _store!.TryUseNonce("client", "n-" + _next++, Now, Now + WindowMs);

    [GlobalCleanup]
    public void Cleanup()
    {
        _store?.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
