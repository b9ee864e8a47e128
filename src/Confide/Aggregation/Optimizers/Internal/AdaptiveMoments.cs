namespace Confide.Aggregation.Optimizers.Internal;

/// <summary>How an adaptive optimiser moves its second moment v toward Δ² (FedAdam and FedYogi differ only here).</summary>
internal interface ISecondMomentRule
{
    static abstract double Next(double v, double squared, double beta2);
}

/// <summary>FedAdam's rule: v ← β₂v + (1 − β₂)Δ².</summary>
internal readonly struct AdamRule : ISecondMomentRule
{
    public static double Next(double v, double squared, double beta2) => (beta2 * v) + ((1 - beta2) * squared);
}

/// <summary>FedYogi's rule: v ← v − (1 − β₂)·Δ²·sign(v − Δ²).</summary>
internal readonly struct YogiRule : ISecondMomentRule
{
    public static double Next(double v, double squared, double beta2) => v - ((1 - beta2) * squared * Math.Sign(v - squared));
}

/// <summary>
/// The state and step shared by FedAdam and FedYogi (Reddi et al. 2021, Algorithm 2): m ← β₁m + (1 − β₁)Δ, v by the
/// rule, x ← x + η·m / (√v + τ), element-wise, no bias correction; m starts at 0 and v at τ².
/// </summary>
internal sealed class AdaptiveMoments
{
    private float[] _m = [];
    private float[] _v = [];

    public ServerOptimizerState Export(string name) =>
        _m.Length == 0 ? ServerOptimizerState.Empty(name) : new(name, new Dictionary<string, float[]> { ["m"] = _m, ["v"] = _v });

    public void Import(string name, ServerOptimizerState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var vectors = state.Expect(name, "m", "v");
        _m = vectors?[0] ?? [];
        _v = vectors?[1] ?? [];
    }

    public void Step<TRule>(string name, Span<float> globalModel, ReadOnlySpan<float> aggregatedDelta, double eta, double beta1, double beta2, double tau)
        where TRule : ISecondMomentRule
    {
        int length = StepChecks.Step(name, globalModel, aggregatedDelta, _m.Length);
        if (_m.Length != length)
        {
            _m = new float[length];
            _v = new float[length];
            Array.Fill(_v, (float)(tau * tau));
        }

        for (int i = 0; i < length; i++)
        {
            double delta = aggregatedDelta[i];
            double m = (beta1 * _m[i]) + ((1 - beta1) * delta);
            double v = TRule.Next(_v[i], delta * delta, beta2);
            _m[i] = (float)m;
            _v[i] = (float)v;
            globalModel[i] = (float)(globalModel[i] + (eta * m / (Math.Sqrt(v) + tau)));
        }
    }
}
