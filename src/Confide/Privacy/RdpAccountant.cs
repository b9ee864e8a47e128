using Confide.Privacy.Internal;

namespace Confide.Privacy;

/// <summary>
/// Rényi-DP accountant for the Poisson-subsampled Gaussian mechanism: Mironov, "Rényi Differential Privacy" (CSF 2017),
/// and Mironov, Talwar, Zhang, "Rényi Differential Privacy of the Sampled Gaussian Mechanism" (2019).
/// RDP composes additively, so a run's RDP curve is the sum over its entries of steps × RDP(one step); the cost does not
/// depend on the number of steps. ε comes from the conversion of Balle, Barthe, Gaboardi, Hsu, Sato,
/// "Hypothesis Testing Interpretations and Rényi Differential Privacy" (AISTATS 2020), as Opacus uses it.
/// </summary>
/// <remarks>
/// Integer orders use the exact binomial expansion of A_α (logsumexp of α + 1 terms); fractional orders use the two
/// infinite series with log-erfc terms (Mironov et al. 2019, section 3.3), summed until both terms fall below e^−30
/// (the same stopping rule as Opacus and TF-Privacy). q = 0 gives 0 and q = 1 gives α/(2σ²).
/// Instances are not thread-safe.
/// </remarks>
public sealed class RdpAccountant
{
    private static readonly double[] OpacusOrders = BuildDefaultOrders();
    private readonly double[] _orders;
    private readonly List<SubsampledGaussianSteps> _history = [];

    /// <summary>Creates an empty accountant over <paramref name="orders"/> (default: <see cref="DefaultOrders"/>).</summary>
    /// <exception cref="ArgumentException">An order is not a finite number greater than 1, or the list is empty.</exception>
    public RdpAccountant(IEnumerable<double>? orders = null)
    {
        _orders = orders is null ? OpacusOrders : [.. orders];
        CheckOrders(_orders);
    }

    /// <summary>Opacus's default orders: 1.1, 1.2, …, 10.9 and 12, 13, …, 63 (151 orders).</summary>
    public static IReadOnlyList<double> DefaultOrders => OpacusOrders;

    /// <summary>The Rényi orders this accountant tracks.</summary>
    public IReadOnlyList<double> Orders => _orders;

    /// <summary>Every entry recorded so far, in order.</summary>
    public IReadOnlyList<SubsampledGaussianSteps> History => _history;

    /// <summary>Records <paramref name="steps"/> steps at noise multiplier σ and sampling rate q.</summary>
    public void Step(double noiseMultiplier, double sampleRate, long steps = 1) =>
        _history.Add(new SubsampledGaussianSteps(sampleRate, noiseMultiplier, steps));

    /// <summary>Records an entry.</summary>
    public void Step(SubsampledGaussianSteps entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        _history.Add(entry);
    }

    /// <summary>The composed RDP curve over <see cref="Orders"/>.</summary>
    public double[] TotalRdp() => ComputeRdp(_history, _orders);

    /// <summary>The (ε, δ) spent so far, minimised over the orders.</summary>
    public PrivacySpent GetPrivacySpent(double delta) => GetPrivacySpent(_orders, TotalRdp(), delta);

    /// <summary>The composed RDP curve of heterogeneous <paramref name="entries"/> at <paramref name="orders"/>.</summary>
    public static double[] ComputeRdp(IEnumerable<SubsampledGaussianSteps> entries, ReadOnlySpan<double> orders)
    {
        ArgumentNullException.ThrowIfNull(entries);
        CheckOrders(orders);
        var total = new double[orders.Length];
        foreach (var e in entries)
        {
            ArgumentNullException.ThrowIfNull(e);
            if (e.Steps == 0 || e.SampleRate == 0)
            {
                continue;
            }

            for (int i = 0; i < orders.Length; i++)
            {
                total[i] += e.Steps * RdpOneStep(e.SampleRate, e.NoiseMultiplier, orders[i]);
            }
        }

        return total;
    }

    /// <summary>RDP of <paramref name="steps"/> steps of the sampled Gaussian mechanism at each of <paramref name="orders"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">q is outside [0, 1], σ ≤ 0, steps &lt; 0, or an order is ≤ 1.</exception>
    public static double[] ComputeRdp(double sampleRate, double noiseMultiplier, long steps, ReadOnlySpan<double> orders) =>
        ComputeRdp([new SubsampledGaussianSteps(sampleRate, noiseMultiplier, steps)], orders);

    /// <summary>RDP of <paramref name="steps"/> steps of the sampled Gaussian mechanism at one order.</summary>
    public static double ComputeRdp(double sampleRate, double noiseMultiplier, long steps, double order) =>
        ComputeRdp(sampleRate, noiseMultiplier, steps, [order])[0];

    /// <summary>
    /// Converts an RDP curve to (ε, δ)-DP (Balle et al. 2020, Theorem 21, as in Opacus):
    /// ε = min_α [ RDP(α) − (log δ + log α)/(α − 1) + log((α − 1)/α) ].
    /// An all-zero curve (nothing released) gives ε = 0 with order NaN.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">δ is outside (0, 1).</exception>
    /// <exception cref="ArgumentException">The spans differ in length, an order is ≤ 1, or an RDP value is negative or NaN.</exception>
    public static PrivacySpent GetPrivacySpent(ReadOnlySpan<double> orders, ReadOnlySpan<double> rdp, double delta)
    {
        CheckDelta(delta);
        CheckOrders(orders);
        if (orders.Length != rdp.Length)
        {
            throw new ArgumentException($"There are {orders.Length} orders but {rdp.Length} RDP values; expected one value per order.", nameof(rdp));
        }

        bool allZero = true;
        foreach (double r in rdp)
        {
            if (double.IsNaN(r) || r < 0)
            {
                throw new ArgumentException($"An RDP value is {r}; expected a non-negative number.", nameof(rdp));
            }

            allZero &= r == 0;
        }

        if (allZero)
        {
            return new PrivacySpent(0, delta, double.NaN);
        }

        double logDelta = Math.Log(delta);
        double best = double.PositiveInfinity, bestOrder = double.NaN;
        for (int i = 0; i < orders.Length; i++)
        {
            double a = orders[i];
            double eps = rdp[i] - ((logDelta + Math.Log(a)) / (a - 1)) + Math.Log((a - 1) / a);
            if (eps < best)
            {
                best = eps;
                bestOrder = a;
            }
        }

        return new PrivacySpent(Math.Max(0, best), delta, bestOrder);
    }

    /// <summary>(ε, δ) for heterogeneous entries at the default orders (or the ones given).</summary>
    public static PrivacySpent GetPrivacySpent(IEnumerable<SubsampledGaussianSteps> entries, double delta, IReadOnlyList<double>? orders = null)
    {
        double[] o = orders is null ? OpacusOrders : [.. orders];
        return GetPrivacySpent(o, ComputeRdp(entries, o), delta);
    }

    /// <summary>(ε, δ) for T homogeneous steps at the default orders.</summary>
    public static PrivacySpent GetPrivacySpent(double sampleRate, double noiseMultiplier, long steps, double delta) =>
        GetPrivacySpent([new SubsampledGaussianSteps(sampleRate, noiseMultiplier, steps)], delta);

    /// <summary>RDP of one step at order α.</summary>
    internal static double RdpOneStep(double q, double sigma, double alpha)
    {
        if (q == 0)
        {
            return 0;
        }

        if (q == 1)
        {
            return alpha / (2 * sigma * sigma);
        }

        double logA = alpha == Math.Floor(alpha) && alpha <= int.MaxValue ? LogAIntegerOrder(q, sigma, (int)alpha) : LogAFractionalOrder(q, sigma, alpha);
        // A_α ≥ 1 (a Rényi divergence is non-negative); rounding in the series can leave it a hair below when σ is large.
        return Math.Max(0, logA) / (alpha - 1);
    }

    /// <summary>log A_α = logsumexp_{i=0..α} [log C(α, i) + i log q + (α − i) log(1 − q) + (i² − i)/(2σ²)].</summary>
    internal static double LogAIntegerOrder(double q, double sigma, int alpha)
    {
        double logQ = Math.Log(q), log1mQ = LogMath.Log1P(-q);
        double inv2s2 = 1 / (2 * sigma * sigma);
        double logA = double.NegativeInfinity;
        double logBinom = 0; // log C(α, 0)
        for (int i = 0; i <= alpha; i++)
        {
            if (i > 0)
            {
                logBinom += Math.Log((double)(alpha - i + 1) / i);
            }

            double term = logBinom + (i * logQ) + ((alpha - i) * log1mQ) + (((double)i * i) - i) * inv2s2;
            logA = LogMath.LogAdd(logA, term);
        }

        return logA;
    }

    /// <summary>
    /// log A_α for fractional α: A_α = A₀ + A₁ with z₀ = σ² log(1/q − 1) + ½ and, summing over i ≥ 0 with the generalised
    /// binomial coefficient C(α, i) (whose sign alternates once i &gt; α),
    /// A₀ term i = C(α, i) qⁱ (1 − q)^{α−i} · ½ e^{(i² − i)/(2σ²)} erfc((i − z₀)/(√2 σ)),
    /// A₁ term i = C(α, i) q^{α−i} (1 − q)ⁱ · ½ e^{(j² − j)/(2σ²)} erfc((z₀ − j)/(√2 σ)) with j = α − i.
    /// </summary>
    internal static double LogAFractionalOrder(double q, double sigma, double alpha)
    {
        double logQ = Math.Log(q), log1mQ = LogMath.Log1P(-q);
        double inv2s2 = 1 / (2 * sigma * sigma);
        double z0 = (sigma * sigma * Math.Log((1 / q) - 1)) + 0.5;
        double sqrt2Sigma = Math.Sqrt(2) * sigma;
        double logHalf = -Math.Log(2);

        // Positive and negative parts are summed apart in the log domain and subtracted once at the end.
        double logPos = double.NegativeInfinity, logNeg = double.NegativeInfinity;
        double logAbsCoef = 0; // log |C(α, 0)|
        bool negative = false;
        for (int i = 0; i < MaxFractionalTerms; i++)
        {
            if (i > 0)
            {
                double factor = (alpha - i + 1) / i;
                logAbsCoef += Math.Log(Math.Abs(factor));
                negative ^= factor < 0;
            }

            double j = alpha - i;
            double logT0 = logAbsCoef + (i * logQ) + (j * log1mQ);
            double logT1 = logAbsCoef + (j * logQ) + (i * log1mQ);
            double logE0 = logHalf + LogMath.LogErfc((i - z0) / sqrt2Sigma);
            double logE1 = logHalf + LogMath.LogErfc((z0 - j) / sqrt2Sigma);
            double logS0 = logT0 + ((((double)i * i) - i) * inv2s2) + logE0;
            double logS1 = logT1 + (((j * j) - j) * inv2s2) + logE1;
            double logS = LogMath.LogAdd(logS0, logS1);
            if (negative)
            {
                logNeg = LogMath.LogAdd(logNeg, logS);
            }
            else
            {
                logPos = LogMath.LogAdd(logPos, logS);
            }

            if (Math.Max(logS0, logS1) < -30 && i > alpha)
            {
                return LogMath.LogSub(logPos, logNeg);
            }
        }

        throw new InvalidOperationException($"The RDP series for order {alpha}, q = {q}, σ = {sigma} did not converge in {MaxFractionalTerms} terms.");
    }

    private const int MaxFractionalTerms = 1_000_000;

    internal static void CheckSampleRate(double q)
    {
        if (!(q >= 0 && q <= 1))
        {
            throw new ArgumentOutOfRangeException("sampleRate", q, "The sampling rate q must lie in [0, 1].");
        }
    }

    internal static void CheckNoiseMultiplier(double sigma)
    {
        if (!(sigma > 0) || double.IsPositiveInfinity(sigma))
        {
            throw new ArgumentOutOfRangeException("noiseMultiplier", sigma, "The noise multiplier σ must be a positive finite number.");
        }
    }

    internal static void CheckDelta(double delta)
    {
        if (!(delta > 0 && delta < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(delta), delta, "δ must lie in (0, 1).");
        }
    }

    private static void CheckOrders(ReadOnlySpan<double> orders)
    {
        if (orders.IsEmpty)
        {
            throw new ArgumentException("At least one Rényi order is needed.", nameof(orders));
        }

        foreach (double a in orders)
        {
            if (!(a > 1) || double.IsPositiveInfinity(a))
            {
                throw new ArgumentException($"Rényi order {a} is invalid; orders must be finite numbers greater than 1.", nameof(orders));
            }
        }
    }

    private static double[] BuildDefaultOrders()
    {
        var orders = new List<double>(151);
        for (int x = 1; x < 100; x++)
        {
            orders.Add(1 + (x / 10.0));
        }

        for (int a = 12; a < 64; a++)
        {
            orders.Add(a);
        }

        return [.. orders];
    }
}
