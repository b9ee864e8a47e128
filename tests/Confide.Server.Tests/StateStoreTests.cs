using Confide.Parameters;
using Confide.Privacy;

namespace Confide.Server.Tests;

public sealed class StateStoreTests
{
    [Fact]
    public async Task A_state_folder_refuses_a_model_with_another_layout()
    {
        await using var federation = new TestFederation();
        await federation.StartAsync(TestFederation.Rounds(1, 1));
        await federation.StopAsync();
        var other = ModelParameters.Zeros(ParameterLayout.Create(("other", [7])));
        var options = new ServerOptions(federation.StateDirectory, TestFederation.Rounds(1, 1), other) { Port = 0 };
        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => ConfideServer.StartAsync(options));
        Assert.Contains("use a fresh state folder", ex.Message);

        // The refusal left the folder usable with the right model.
        await using var again = await ConfideServer.StartAsync(TestFederation.Options(federation.StateDirectory, TestFederation.Rounds(1, 1)));
        Assert.Equal(TestFederation.InitialModel().AsSpan().ToArray(), again.GlobalModel.AsSpan().ToArray());
    }

    [Fact]
    public async Task Dp_without_a_budget_is_refused_before_anything_starts()
    {
        await using var federation = new TestFederation();
        var dp = DpFedAvgOptions.Fixed(1.0, 1.0, 2, 10, ClippingPlacement.Server);
        var rounds = new Protocol.Rounds.RoundOptions(1, Protocol.Rounds.ClientSampling.OfCount(2), TimeSpan.FromSeconds(5), 2, new Aggregation.AggregatorSettings("fedavg"), privacy: dp);
        var ex = await Assert.ThrowsAsync<ArgumentException>(() => ConfideServer.StartAsync(TestFederation.Options(federation.StateDirectory, rounds)));
        Assert.Contains("privacy budget", ex.Message);
        Assert.False(Directory.Exists(federation.StateDirectory));
    }

    [Fact]
    public void Expired_nonces_are_pruned_through_an_index_and_a_live_one_is_refused_again()
    {
        string directory = Path.Combine(Path.GetTempPath(), "confide-store-" + Guid.NewGuid().ToString("N"));
        try
        {
            using (var store = StateStore.Open(directory))
            {
                Assert.True(store.TryUseNonce("c1", "n1", 1_000, 2_000));
                Assert.False(store.TryUseNonce("c1", "n1", 1_500, 2_500)); // a replay inside its window
                Assert.True(store.TryUseNonce("c2", "n1", 1_500, 2_500)); // another client's nonce
                Assert.True(store.TryUseNonce("c1", "n3", 2_100, 3_000)); // n1 of c1 expired at 2,000: pruned now
            }

            using var db = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(directory, "state.db")};Pooling=False");
            db.Open();
            using var rows = db.CreateCommand();
            rows.CommandText = "SELECT client_id || '/' || nonce FROM nonces ORDER BY client_id, nonce";
            var left = new List<string>();
            using (var reader = rows.ExecuteReader())
            {
                while (reader.Read())
                {
                    left.Add(reader.GetString(0));
                }
            }

            Assert.Equal(["c1/n3", "c2/n1"], left);

            // Every signed request runs this delete; the table holds a whole timestamp window of requests, so it must not scan.
            using var plan = db.CreateCommand();
            plan.CommandText = "EXPLAIN QUERY PLAN DELETE FROM nonces WHERE expires_at < 5";
            using var planReader = plan.ExecuteReader();
            var steps = new List<string>();
            while (planReader.Read())
            {
                steps.Add(planReader.GetString(3));
            }

            Assert.Contains(steps, step => step.Contains("nonces_by_expiry", StringComparison.Ordinal));
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    [Fact]
    public void A_completed_rounds_payloads_are_gone_once_the_store_is_closed()
    {
        string directory = Path.Combine(Path.GetTempPath(), "confide-store-" + Guid.NewGuid().ToString("N"));
        try
        {
            var store = StateStore.Open(directory);
            CompleteRoundZeroWithTwoPayloads(store, () => Assert.Equal(2, Directory.GetFiles(store.PendingDirectory).Length));
            store.Dispose(); // waits for the background work

            Assert.Empty(Directory.GetFiles(Path.Combine(directory, "pending")));
            using var reopened = StateStore.Open(directory);
            Assert.Equal(0, reopened.DeleteOrphanPendingUpdates());
            Assert.Equal("aggregated", Assert.Single(reopened.ListRounds()).Status);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void An_aggregated_payload_file_is_emptied_and_written_again_by_a_later_upload()
    {
        string directory = Path.Combine(Path.GetTempPath(), "confide-store-" + Guid.NewGuid().ToString("N"));
        try
        {
            using (var store = StateStore.Open(directory))
            {
                CompleteRoundZeroWithTwoPayloads(store, () => { });
                store.WaitForBackgroundWork();

                // The individual updates are gone: their files are empty spares, outside the pending folder's listing.
                Assert.Empty(Directory.GetFiles(store.PendingDirectory));
                string[] spares = Directory.GetFiles(store.SpareDirectory);
                Assert.Equal(2, spares.Length);
                Assert.All(spares, f => Assert.Equal(0, new FileInfo(f).Length));

                // A later upload takes a spare and gets exactly its own bytes.
                store.BeginRound(new Protocol.Rounds.RoundTicket(1, ["a"], DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch.AddMinutes(1)));
                byte[] payload = [.. Enumerable.Range(0, 5000).Select(i => (byte)(i % 251))];
                string c = store.WritePendingUpdate(1, payload);
                Assert.Single(Directory.GetFiles(store.SpareDirectory));
                Assert.Equal(payload, File.ReadAllBytes(Path.Combine(store.PendingDirectory, c)));
            }

            // Closing the store removes the spares; the pending update of the open round stays.
            Assert.Empty(Directory.GetFiles(Path.Combine(directory, "pending", "spare")));
            Assert.Single(Directory.GetFiles(Path.Combine(directory, "pending")));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>Round 0 with two accepted payloads written, recorded and aggregated; <paramref name="beforeCompletion"/> looks in between.</summary>
    private static void CompleteRoundZeroWithTwoPayloads(StateStore store, Action beforeCompletion)
    {
        var model = TestFederation.InitialModel();
        var start = DateTimeOffset.UnixEpoch;
        store.LoadOrSaveInitialModel(model);
        store.BeginRound(new Protocol.Rounds.RoundTicket(0, ["a", "b"], start, start.AddMinutes(1)));
        string a = store.WritePendingUpdate(0, Enumerable.Repeat((byte)7, 9000).ToArray());
        string b = store.WritePendingUpdate(0, Enumerable.Repeat((byte)8, 7000).ToArray());
        store.RecordSubmission(0, "a", true, null, 10, 0, a, start);
        store.RecordSubmission(0, "b", true, null, 10, 1, b, start);
        beforeCompletion();
        store.CompleteRound(new Protocol.Rounds.RoundResult(0, true, null, ["a", "b"], [("a", 10), ("b", 10)], [], [], [], model, null, start, start.AddSeconds(1)), null, null);
    }
}
