namespace Confide.Server.Internal;

/// <summary>
/// Group commit for accepted submissions: each row is committed without a disk flush under the round lock (so the
/// lock is held for microseconds, not for a flush), takes a ticket, and its SubmitUpdate answers only once a flush
/// that started after the row's commit has finished. One flush covers every row committed before it, so concurrent
/// submissions share flushes instead of queueing one flush each behind the round lock.
/// </summary>
internal sealed class GroupCommit(Action flush)
{
    private readonly Lock _gate = new();
    private long _written;
    private long _durable;
    private Task? _flushing;

    /// <summary>Takes the ticket of a commit just made without a flush (call it right after the commit).</summary>
    public long Written() => Interlocked.Increment(ref _written);

    /// <summary>Completes once the commit with <paramref name="ticket"/> is on disk; faults if the flush fails.</summary>
    public async Task WhenDurableAsync(long ticket)
    {
        while (true)
        {
            Task flushing;
            lock (_gate)
            {
                if (_durable >= ticket)
                {
                    return;
                }

                _flushing ??= FlushAsync();
                flushing = _flushing;
            }

            await flushing.ConfigureAwait(false);
        }
    }

    private async Task FlushAsync()
    {
        // Off the caller's stack (and out of the lock above): the flush blocks on the disk.
        await Task.Yield();
        try
        {
            long upTo = Volatile.Read(ref _written);
            flush();
            lock (_gate)
            {
                _durable = Math.Max(_durable, upTo);
            }
        }
        finally
        {
            lock (_gate)
            {
                _flushing = null;
            }
        }
    }
}
