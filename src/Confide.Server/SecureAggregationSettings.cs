using Confide.Protocol.SecureAggregation;

namespace Confide.Server;

/// <summary>
/// Runs every round through secure aggregation over the wire (Bonawitz et al. 2017, CCS; SecAgg+ neighbourhoods of
/// Bell et al. 2020): the server sees only the sum of the quantized updates. Validated where built.
/// </summary>
/// <remarks>
/// The AdvertiseKeys stage (which also covers downloading and training) waits <c>RoundOptions.CollectTimeout</c>;
/// every later stage waits <see cref="StageTimeout"/>. Without DP each client clips each coordinate to
/// [−<see cref="ClipRange"/>, <see cref="ClipRange"/>] and weights by its sample count; with DP-FedAvg it clips to the
/// L2 clip norm and uses weight 1, and the server adds the noise to the unmasked sum (central DP), or, with
/// <c>RoundOptions.DistributedPrivacy</c>, each client adds its own discrete Gaussian noise before masking and the server
/// adds none (distributed DP, Kairouz, Liu, Steinke 2021).
/// </remarks>
public sealed record SecureAggregationSettings
{
    /// <summary>Creates the settings.</summary>
    /// <param name="stageTimeout">How long each stage after AdvertiseKeys waits.</param>
    /// <param name="neighbours">SecAgg+ neighbourhood size k, or null for ⌈2·log2 n⌉ rounded up to even (n − 1 at most).</param>
    /// <param name="modulusBits">Inputs and masks live in Z_{2^bits}, 2 to 62.</param>
    /// <param name="clipRange">The per-coordinate clip range c without DP.</param>
    public SecureAggregationSettings(TimeSpan stageTimeout, int? neighbours = null, int modulusBits = 32, double clipRange = 1.0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(stageTimeout, TimeSpan.Zero);
        if (neighbours is int k && k < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(neighbours), k, "The SecAgg+ neighbourhood size must be at least 1.");
        }

        if (modulusBits < 2 || modulusBits > SecAggOptions.MaxModulusBits)
        {
            throw new ArgumentOutOfRangeException(nameof(modulusBits), modulusBits, $"The modulus exponent must be between 2 and {SecAggOptions.MaxModulusBits}.");
        }

        if (!(clipRange > 0) || !double.IsFinite(clipRange))
        {
            throw new ArgumentOutOfRangeException(nameof(clipRange), clipRange, "The clip range must be a finite positive number.");
        }

        StageTimeout = stageTimeout;
        Neighbours = neighbours;
        ModulusBits = modulusBits;
        ClipRange = clipRange;
    }

    /// <summary>How long each stage after AdvertiseKeys waits.</summary>
    public TimeSpan StageTimeout { get; }

    /// <summary>The SecAgg+ neighbourhood size, or null for the recommended one.</summary>
    public int? Neighbours { get; }

    /// <summary>The modulus exponent.</summary>
    public int ModulusBits { get; }

    /// <summary>The per-coordinate clip range without DP.</summary>
    public double ClipRange { get; }

    /// <summary>How often a waiting client polls.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(200);
}
