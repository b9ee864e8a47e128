using System.Globalization;

namespace Confide.Aggregation;

/// <summary>
/// Settings of the smoothed Weiszfeld iteration behind <see cref="GeometricMedian"/>. Each value is checked where it is set.
/// </summary>
/// <remarks>
/// Pillutla, Kakade and Harchaoui (RFA) report that a few iterations already give a robust aggregate; these defaults
/// instead run to convergence, which a server can afford when it holds the updates in the clear.
/// </remarks>
public sealed record GeometricMedianOptions
{
    /// <summary>
    /// The smoothing ν &gt; 0: distances below ν count as ν, which keeps the weights αᵢ / max(ν, ‖z − xᵢ‖) finite when
    /// the estimate lands on an input. Default 1e-6.
    /// </summary>
    public double Smoothing
    {
        get;
        init
        {
            if (!(double.IsFinite(value) && value > 0))
            {
                throw new ArgumentOutOfRangeException(nameof(Smoothing), value, $"geometric-median: smoothing ν = {value.ToString(CultureInfo.InvariantCulture)}; expected a positive finite number.");
            }

            field = value;
        }
    } = 1e-6;

    /// <summary>The most Weiszfeld iterations run, at least 1. Default 100.</summary>
    public int MaxIterations
    {
        get;
        init
        {
            if (value < 1)
            {
                throw new ArgumentOutOfRangeException(nameof(MaxIterations), value, $"geometric-median: max iterations = {value}; expected at least 1.");
            }

            field = value;
        }
    } = 100;

    /// <summary>
    /// Stop once an iteration lowers the objective Σ αᵢ‖z − xᵢ‖ by less than this fraction of it; 0 runs every
    /// iteration. Default 1e-6.
    /// </summary>
    public double Tolerance
    {
        get;
        init
        {
            if (!(double.IsFinite(value) && value >= 0))
            {
                throw new ArgumentOutOfRangeException(nameof(Tolerance), value, $"geometric-median: tolerance = {value.ToString(CultureInfo.InvariantCulture)}; expected a finite number ≥ 0.");
            }

            field = value;
        }
    } = 1e-6;
}
