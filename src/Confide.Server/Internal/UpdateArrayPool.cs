namespace Confide.Server.Internal;

/// <summary>
/// Model-length float arrays for decoded updates, reused. With FedAvg or DP-FedAvg an array comes back as soon as its
/// update is in the coordinator's running sum, so the pool holds about as many arrays as uploads decode at once. With a
/// robust aggregator a round holds every accepted update until it aggregates (100 × 1M parameters is 400 MB);
/// allocating those afresh each round made the kernel fault in and zero every page again, which was the largest single
/// item in the server's decode time.
/// </summary>
/// <remarks>
/// The arrays never leave the server: an array goes back here when its update was refused or summed, or when its round
/// has completed and the coordinator has let go of every update. Its next user overwrites every element (see
/// <see cref="Parameters.Safetensors.ReadInto"/>), so it is not cleared in between. The pool keeps at most as many arrays
/// as were in use at once, which the round's participants bound.
/// </remarks>
internal sealed class UpdateArrayPool(int length)
{
    private readonly Lock _gate = new();
    private readonly Stack<float[]> _free = new();

    /// <summary>The length of every array.</summary>
    public int Length { get; } = length;

    /// <summary>An array of <see cref="Length"/> floats with unspecified contents.</summary>
    public float[] Rent()
    {
        lock (_gate)
        {
            if (_free.TryPop(out var array))
            {
                return array;
            }
        }

        return GC.AllocateUninitializedArray<float>(Length);
    }

    /// <summary>Takes back arrays from <see cref="Rent"/> that nothing references any more.</summary>
    public void Return(IEnumerable<float[]> arrays)
    {
        lock (_gate)
        {
            foreach (var array in arrays)
            {
                if (array.Length == Length)
                {
                    _free.Push(array);
                }
            }
        }
    }

    /// <summary>Takes back one array from <see cref="Rent"/> that nothing references any more.</summary>
    public void Return(float[] array) => Return([array]);
}
