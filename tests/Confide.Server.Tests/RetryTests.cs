using Confide.Client;
using Confide.Randomness;
using Confide.SecureAggregation;

namespace Confide.Server.Tests;

public sealed class RetryTests
{
    [Fact]
    public async Task A_participant_retries_with_backoff_while_the_server_is_down_then_completes_the_run()
    {
        await using var federation = new TestFederation();

        // Enroll against a first server, then stop it and reserve its port for the restart.
        var first = await federation.StartAsync(TestFederation.Rounds(rounds: 1, clients: 1), insecure: true);
        using var key = IdentityKeyPair.Generate(new SeededRandomSource(31));
        var enrolling = federation.Connect(key);
        string id = await enrolling.EnrollAsync(first.IssueToken());
        await federation.StopAsync();

        int port = Confide.Testing.LoopbackPort.Free();
        var address = new Uri($"http://127.0.0.1:{port}");
        using var client = new FederationClient(new FederationClientOptions(address, null, insecure: true) { CallTimeout = TimeSpan.FromSeconds(5) }, key, id);
        string progress = Path.Combine(federation.StateDirectory, "retry.progress");
        var participant = new FederatedParticipant(client, new DeterministicTrainer(0), ParticipantProgress.Load(progress))
        {
            InitialBackoff = TimeSpan.FromMilliseconds(50),
            MaxBackoff = TimeSpan.FromMilliseconds(400),
        };
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var run = Task.Run(() => participant.RunAsync(cts.Token));

        await Task.Delay(700); // the participant is failing (Unavailable) and backing off meanwhile
        Assert.False(run.IsCompleted);
        var options = TestFederation.Options(federation.StateDirectory, TestFederation.Rounds(rounds: 1, clients: 1), insecure: true) with { Port = port };
        await using var server = await ConfideServer.StartAsync(options);

        Assert.Equal("rounds-completed", await run);
        Assert.Equal(1, participant.SubmittedRounds);
        Assert.Equal(0, ParticipantProgress.Load(progress).LastSubmittedRound);
        Assert.Equal("aggregated", Assert.Single(server.Store.ListRounds()).Status);
    }

    [Fact]
    public async Task A_restarted_participant_does_not_submit_a_round_it_already_submitted()
    {
        await using var federation = new TestFederation();
        var server = await federation.StartAsync(TestFederation.Rounds(rounds: 1, clients: 2, minUpdates: 1, deadline: TimeSpan.FromSeconds(2)));
        var (a, _) = await federation.EnrollAsync(1);
        var (b, _) = await federation.EnrollAsync(2);
        await b.FetchTaskAsync(-1);
        var task = await EndToEndTests.WaitForTrainAsync(a);

        // This participant's progress file says it already submitted the current round (e.g. before a crash).
        string progress = Path.Combine(federation.StateDirectory, "a.progress");
        var state = ParticipantProgress.Load(progress);
        state.SetClientId(a.ClientId!);
        state.MarkSubmitted(task.Round);
        var trainer = new DeterministicTrainer(1);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        string reason = await new FederatedParticipant(a, trainer, ParticipantProgress.Load(progress)).RunAsync(cts.Token);

        Assert.Equal("rounds-completed", reason);
        Assert.Equal(0, trainer.Calls);
        var round = Assert.Single(server.Store.ListRounds());
        Assert.Equal("failed", round.Status);
        Assert.Equal(2, round.Stragglers.Count);

        // The run counts the round as completed, and says it failed.
        var status = await a.GetStatusAsync();
        Assert.Equal((1, 1), (status.CompletedRounds, status.FailedRounds));
        Assert.Equal(1, server.FailedRounds);
    }
}
