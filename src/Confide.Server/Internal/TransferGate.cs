namespace Confide.Server.Internal;

/// <summary>
/// Bounds how many model-sized transfers (model downloads, or update uploads) the server moves at once. With many
/// clients on few cores, a hundred streams advancing a few frames each cost more per byte (scheduling, small socket
/// writes, cold buffers) than a few streams moving at full speed; the others wait their turn (an upload waiting here is
/// paused by HTTP/2 flow control once its stream window is full).
/// </summary>
/// <remarks>
/// A slot is only held while its transfer moves: when the peer stalls (a chunk that does not arrive, or a download it does
/// not read) for longer than <see cref="IdleRelease"/>, the slot goes to a waiting transfer and is taken again when the
/// stalled one resumes. So a slow or hostile participant delays only itself, never the others.
/// </remarks>
internal sealed class TransferGate(int limit) : IDisposable
{
    /// <summary>How long a transfer may stall before it gives its slot up while it waits.</summary>
    public static readonly TimeSpan IdleRelease = TimeSpan.FromMilliseconds(500);

    private readonly SemaphoreSlim _slots = new(limit, limit);

    /// <summary>Waits for a slot; dispose the lease to give it back.</summary>
    public async ValueTask<Lease> EnterAsync(CancellationToken cancellationToken)
    {
        await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        return new Lease(this);
    }

    public void Dispose() => _slots.Dispose();

    /// <summary>A slot, held while the transfer moves.</summary>
    internal sealed class Lease(TransferGate gate) : IDisposable
    {
        private bool _held = true;

        /// <summary>Awaits one step of the transfer, giving the slot up while the step stalls.</summary>
        public async Task<T> AwaitAsync<T>(Task<T> step, CancellationToken cancellationToken)
        {
            await AwaitAsync((Task)step, cancellationToken).ConfigureAwait(false);
            return await step.ConfigureAwait(false);
        }

        /// <summary>Awaits one step of the transfer, giving the slot up while the step stalls.</summary>
        public async Task AwaitAsync(Task step, CancellationToken cancellationToken)
        {
            if (!step.IsCompleted)
            {
                await step.WaitAsync(IdleRelease, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                if (!step.IsCompleted)
                {
                    Release();
                    await step.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                    await gate._slots.WaitAsync(cancellationToken).ConfigureAwait(false);
                    _held = true;
                }
            }

            await step.ConfigureAwait(false);
        }

        public void Dispose()
        {
            if (_held)
            {
                Release();
            }
        }

        private void Release()
        {
            _held = false;
            gate._slots.Release();
        }
    }
}
