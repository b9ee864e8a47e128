using System.Globalization;
using Confide.Aggregation.Internal;

namespace Confide.Aggregation;

/// <summary>
/// FLTrust: Cao, Fang, Liu and Gong, "FLTrust: Byzantine-robust Federated Learning via Trust Bootstrapping",
/// NDSS 2021. The server computes its own update g₀ on a small clean root data set. Client i gets the trust score
/// TSᵢ = ReLU(cos(gᵢ, g₀)); its update is rescaled to ‖g₀‖; the aggregate is Σ TSᵢ·(‖g₀‖/‖gᵢ‖)·gᵢ / Σ TSᵢ.
/// </summary>
/// <remarks>
/// <para>A client whose update is all zeros gets trust 0 (its cosine is undefined; nothing is divided by zero).</para>
/// <para>When every trust score is 0 the paper's formula is 0/0. By default that is an error
/// (<see cref="ArgumentException"/>); <see cref="FlTrustOptions.AllZeroTrustFallback"/> can instead return the server update
/// or a zero update, and then every client is flagged.</para>
/// <para>Weights are checked (one positive weight per input, or none) but otherwise ignored: the trust score replaces them.</para>
/// <para>Dot products and norms are accumulated in double. <see cref="AggregationResult.Scores"/> holds the trust scores;
/// clients with trust 0 are flagged with their cosine, the others are selected.</para>
/// </remarks>
public sealed class FlTrust : IAggregator
{
    private readonly float[] _serverUpdate;
    private readonly double _serverNorm;

    /// <summary>Creates FLTrust around the server's root-data-set update for this round (copied).</summary>
    /// <exception cref="ArgumentException">The server update is empty, holds a non-finite value, or is all zeros.</exception>
    public FlTrust(ReadOnlyMemory<float> serverUpdate, FlTrustOptions? options = null)
    {
        if (serverUpdate.Length == 0)
        {
            throw new ArgumentException("FLTrust: the server update is empty; expected the server's update on its root data set.", nameof(serverUpdate));
        }

        _serverUpdate = serverUpdate.ToArray();
        var (_, squaredNorm) = PairwiseDistances.DotAndSquaredNorm(_serverUpdate, _serverUpdate);
        if (!double.IsFinite(squaredNorm))
        {
            throw new ArgumentException("FLTrust: the server update contains a non-finite value (NaN or ±∞); expected finite values.", nameof(serverUpdate));
        }

        if (squaredNorm == 0)
        {
            throw new ArgumentException("FLTrust: the server update is all zeros, so no cosine similarity is defined; expected a non-zero root update.", nameof(serverUpdate));
        }

        _serverNorm = Math.Sqrt(squaredNorm);
        Options = options ?? new FlTrustOptions();
    }

    /// <summary>The options in force.</summary>
    public FlTrustOptions Options { get; }

    /// <summary>The server update's L2 norm, to which every client update is rescaled.</summary>
    public double ServerNorm => _serverNorm;

    /// <inheritdoc />
    public string Name => "fltrust";

    /// <inheritdoc />
    /// <exception cref="ArgumentException">Lengths differ from the server update, bad weights, a non-finite value, or every
    /// trust score is 0 and no fallback is configured.</exception>
    public AggregationResult Aggregate(IReadOnlyList<ReadOnlyMemory<float>> updates, ReadOnlySpan<double> weights)
    {
        int d = RobustInputChecks.CheckUpdates("FLTrust", updates, weights);
        if (d != _serverUpdate.Length)
        {
            throw new ArgumentException(
                $"FLTrust: client updates have {d} values but the server update has {_serverUpdate.Length}; expected the same length.",
                nameof(updates));
        }

        int n = updates.Count;
        var dots = new double[n];
        var squaredNorms = new double[n];
        if ((long)n * d < (1 << 18))
        {
            for (int i = 0; i < n; i++)
            {
                (dots[i], squaredNorms[i]) = PairwiseDistances.DotAndSquaredNorm(updates[i].Span, _serverUpdate);
            }
        }
        else
        {
            Parallel.For(0, n, i => (dots[i], squaredNorms[i]) = PairwiseDistances.DotAndSquaredNorm(updates[i].Span, _serverUpdate));
        }

        var trust = new double[n];
        var cosines = new double[n];
        double trustSum = 0;
        for (int i = 0; i < n; i++)
        {
            if (!double.IsFinite(squaredNorms[i]) || !double.IsFinite(dots[i]))
            {
                throw new ArgumentException(
                    $"FLTrust: update {i} contains a non-finite value (NaN or ±∞); every value must be finite (validate updates before aggregating).",
                    nameof(updates));
            }

            if (squaredNorms[i] > 0)
            {
                cosines[i] = Math.Clamp(dots[i] / (Math.Sqrt(squaredNorms[i]) * _serverNorm), -1.0, 1.0);
                trust[i] = Math.Max(0.0, cosines[i]);
            }

            trustSum += trust[i];
        }

        var selected = new List<int>();
        var flagged = new List<FlaggedInput>();
        for (int i = 0; i < n; i++)
        {
            if (trust[i] > 0)
            {
                selected.Add(i);
            }
            else
            {
                string why = squaredNorms[i] == 0
                    ? "the update is all zeros"
                    : $"cosine to the server update is {cosines[i].ToString("G4", CultureInfo.InvariantCulture)}";
                flagged.Add(new FlaggedInput(i, $"excluded by FLTrust: trust score 0 because {why}"));
            }
        }

        if (trustSum == 0)
        {
            return Options.AllZeroTrustFallback switch
            {
                FlTrustFallback.ServerUpdate => new AggregationResult(_serverUpdate.ToArray(), [], flagged, trust),
                FlTrustFallback.ZeroUpdate => new AggregationResult(new float[d], [], flagged, trust),
                _ => throw new ArgumentException(
                    $"FLTrust: every one of the {n} client updates has trust score 0 (none has a positive cosine with the server update), " +
                    "so the trust-weighted mean is undefined; configure FlTrustOptions.AllZeroTrustFallback to return the server or a zero update instead.",
                    nameof(updates)),
            };
        }

        // Coefficients and sums are in double, so even a client norm far below the server's rescales without overflow.
        var coefficients = new double[selected.Count];
        for (int s = 0; s < selected.Count; s++)
        {
            int i = selected[s];
            coefficients[s] = trust[i] * _serverNorm / Math.Sqrt(squaredNorms[i]);
        }

        float[] aggregate = ParallelLinearCombination.Compute(updates, selected, coefficients, trustSum, d);
        return new AggregationResult(aggregate, selected, flagged, trust);
    }
}
