namespace Confide.Server.Internal;

/// <summary>
/// Bounds how many model-sized transfers (model downloads and update uploads) the server moves at once. With many
/// clients on few cores, a hundred streams advancing a few frames each cost more per byte (scheduling, small socket
/// writes, cold buffers) than a few streams moving at full speed; the others wait their turn at no cost (an upload
/// waiting here is paused by HTTP/2 flow control once its stream window is full).
/// </summary>
internal sealed class TransferGate(int limit) : IDisposable
{
    private readonly SemaphoreSlim _slots = new(limit, limit);

    /// <summary>Waits for a slot; dispose the result to give it back.</summary>
    public async ValueTask<Slot> EnterAsync(CancellationToken cancellationToken)
    {
        await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        return new Slot(_slots);
    }

    public void Dispose() => _slots.Dispose();

    /// <summary>A held slot.</summary>
    internal readonly struct Slot(SemaphoreSlim slots) : IDisposable
    {
        public void Dispose() => slots.Release();
    }
}
