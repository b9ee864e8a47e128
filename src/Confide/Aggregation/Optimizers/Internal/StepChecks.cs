using System.Globalization;
using Confide.Aggregation.Internal;

namespace Confide.Aggregation.Optimizers.Internal;

/// <summary>The parameter and step checks the server optimisers share.</summary>
internal static class StepChecks
{
    public static double LearningRate(string optimizer, double value, string parameter) =>
        double.IsFinite(value) && value > 0
            ? value
            : throw new ArgumentOutOfRangeException(parameter, value, $"{optimizer}: learning rate η = {Format(value)}; expected a positive finite number.");

    public static double Decay(string optimizer, double value, string parameter) =>
        value >= 0 && value < 1
            ? value
            : throw new ArgumentOutOfRangeException(parameter, value, $"{optimizer}: {parameter} = {Format(value)}; expected 0 ≤ {parameter} < 1.");

    public static double Adaptivity(string optimizer, double value, string parameter) =>
        double.IsFinite(value) && value > 0
            ? value
            : throw new ArgumentOutOfRangeException(parameter, value, $"{optimizer}: adaptivity τ = {Format(value)}; expected a positive finite number.");

    /// <summary>
    /// Checks one step's arguments against each other and against the state length (0 until the first step), and
    /// returns the state length to keep. Nothing is modified before these checks pass.
    /// </summary>
    public static int Step(string optimizer, ReadOnlySpan<float> globalModel, ReadOnlySpan<float> delta, int stateLength)
    {
        if (globalModel.Length != delta.Length)
        {
            throw new ArgumentException(
                $"{optimizer}: the model has {globalModel.Length} values and the delta {delta.Length}; expected equal lengths.", "aggregatedDelta");
        }

        if (stateLength != 0 && stateLength != delta.Length)
        {
            throw new ArgumentException(
                $"{optimizer}: this optimiser's state was built for {stateLength} parameters, got {delta.Length}; use one optimiser instance per model.", "aggregatedDelta");
        }

        int bad = VectorKernels.IndexOfNonFinite(delta);
        if (bad >= 0)
        {
            throw new ArgumentException(
                $"{optimizer}: the delta has the non-finite value {Format(delta[bad])} at index {bad}; expected finite values.", "aggregatedDelta");
        }

        return delta.Length;
    }

    private static string Format(double value) => value.ToString(CultureInfo.InvariantCulture);
}
