using System.Diagnostics.Metrics;
using Confide.Server;

namespace Confide.Cli.Federation;

/// <summary>
/// Listens to the server's <see cref="ServerMetrics"/> instruments in-process and keeps, per instrument, the number of
/// measurements, their sum and their largest value.
/// </summary>
internal sealed class ServerPhaseRecorder : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Phase> _phases = new(StringComparer.Ordinal);

    public ServerPhaseRecorder()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == ServerMetrics.MeterName)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<double>((instrument, value, _, _) => Add(instrument.Name, value));
        _listener.SetMeasurementEventCallback<long>((instrument, value, _, _) => Add(instrument.Name, value));
        _listener.Start();
    }

    /// <summary>One instrument's totals.</summary>
    public readonly record struct Phase(long Count, double Sum, double Max);

    /// <summary>The totals of <paramref name="instrument"/> (zeros when nothing was recorded).</summary>
    public Phase this[string instrument]
    {
        get
        {
            lock (_gate)
            {
                return _phases.GetValueOrDefault(instrument);
            }
        }
    }

    public void Dispose() => _listener.Dispose();

    private void Add(string name, double value)
    {
        lock (_gate)
        {
            var p = _phases.GetValueOrDefault(name);
            _phases[name] = new Phase(p.Count + 1, p.Sum + value, Math.Max(p.Max, value));
        }
    }
}
