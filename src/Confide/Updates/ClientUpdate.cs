using System.Collections.ObjectModel;
using Confide.Parameters;

namespace Confide.Updates;

/// <summary>
/// One client's contribution to a round: who sent it, the parameter delta, how many samples it was computed on and free-form metadata.
/// It is not checked here beyond being well-formed; <see cref="UpdateValidator"/> decides whether it may reach an aggregator.
/// </summary>
public sealed class ClientUpdate
{
    private static readonly IReadOnlyDictionary<string, string> NoMetadata = ReadOnlyDictionary<string, string>.Empty;

    /// <summary>Creates an update; <paramref name="metadata"/> is copied.</summary>
    /// <exception cref="ArgumentException"><paramref name="clientId"/> is null or empty.</exception>
    public ClientUpdate(string clientId, ModelParameters delta, long sampleCount, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(clientId);
        ArgumentNullException.ThrowIfNull(delta);
        ClientId = clientId;
        Delta = delta;
        SampleCount = sampleCount;
        Metadata = metadata is null || metadata.Count == 0
            ? NoMetadata
            : new ReadOnlyDictionary<string, string>(metadata.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal));
    }

    /// <summary>The sender's id, unique within a round.</summary>
    public string ClientId { get; }

    /// <summary>The update to the global model (new local weights minus the weights the client started from).</summary>
    public ModelParameters Delta { get; }

    /// <summary>The number of local samples behind the update; FedAvg weights by it. Validated, not trusted.</summary>
    public long SampleCount { get; }

    /// <summary>Free-form string metadata (for example the client's software version).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <inheritdoc/>
    public override string ToString() => $"ClientUpdate({ClientId}, {SampleCount} samples, {Delta.Layout})";
}
