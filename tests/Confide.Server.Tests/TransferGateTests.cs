using Confide.Server.Internal;

namespace Confide.Server.Tests;

/// <summary>A transfer slot is held while the transfer moves and handed on while it stalls.</summary>
public sealed class TransferGateTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task A_stalled_transfer_hands_its_slot_on_and_takes_one_again_when_it_resumes()
    {
        using var gate = new TransferGate(1);
        var a = await gate.EnterAsync(default);
        var stalled = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        var step = a.AwaitAsync(stalled.Task, default);

        // b gets the only slot while a's peer is silent.
        var b = await gate.EnterAsync(default).AsTask().WaitAsync(Generous);
        stalled.SetResult(true);
        await Task.Delay(200);
        Assert.False(step.IsCompleted); // a's step is done, but a needs the slot back, and b holds it

        b.Dispose();
        Assert.True(await step.WaitAsync(Generous));
        a.Dispose();
        (await gate.EnterAsync(default).AsTask().WaitAsync(Generous)).Dispose(); // nothing leaked
    }

    [Fact]
    public async Task A_moving_transfer_keeps_its_slot()
    {
        using var gate = new TransferGate(1);
        using (var a = await gate.EnterAsync(default))
        {
            Assert.True(await a.AwaitAsync(Task.FromResult(true), default));
            var waiting = gate.EnterAsync(default).AsTask();
            await Task.Delay(200);
            Assert.False(waiting.IsCompleted);
            a.Dispose(); // disposing twice (here and at the end of the block) gives the slot back once
            (await waiting.WaitAsync(Generous)).Dispose();
        }

        (await gate.EnterAsync(default).AsTask().WaitAsync(Generous)).Dispose();
    }

    [Fact]
    public async Task A_failed_step_fails_the_transfer_and_frees_the_slot()
    {
        using var gate = new TransferGate(1);
        using (var a = await gate.EnterAsync(default))
        {
            await Assert.ThrowsAsync<IOException>(() => a.AwaitAsync(Task.FromException<bool>(new IOException("reset")), default));
        }

        (await gate.EnterAsync(default).AsTask().WaitAsync(Generous)).Dispose();
    }
}
