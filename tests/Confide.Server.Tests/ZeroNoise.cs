using Confide.Privacy;

namespace Confide.Server.Tests;

/// <summary>
/// A noise source that adds nothing, so a DP run is a deterministic function of its inputs and a restarted run can be
/// compared bit for bit with an uninterrupted one. For state-durability tests only; it provides no privacy.
/// </summary>
internal sealed class ZeroNoise : IGaussianNoise
{
    public void AddTo(Span<float> values, double standardDeviation)
    {
    }

    public void Fill(Span<double> destination, double standardDeviation) => destination.Clear();
}
