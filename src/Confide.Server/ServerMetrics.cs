using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Confide.Server;

/// <summary>
/// The server's transfer-path instruments, published on the <see cref="MeterName"/> meter so that
/// <c>dotnet-counters monitor --counters Confide.Server</c> (or an in-process <see cref="MeterListener"/>, as
/// <c>confide bench federation</c> uses) can see where a round's time goes. Durations are histograms in seconds.
/// </summary>
/// <remarks>
/// The meter is static, so servers in one process (tests, the load benchmark) share it. Nothing recorded here carries a
/// client id, a token or any model value: only durations and byte counts.
/// </remarks>
public static class ServerMetrics
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "Confide.Server";

    /// <summary>FetchModel: from getting a transfer slot to the last chunk written.</summary>
    public const string ModelSend = "confide.server.model.send";

    /// <summary>SubmitUpdate: from getting a transfer slot to the body read, hashed, buffered and checked against the signed hash.</summary>
    public const string UpdateReceive = "confide.server.update.receive";

    /// <summary>SubmitUpdate: decoding the authenticated payload into a model.</summary>
    public const string UpdateDecode = "confide.server.update.decode";

    /// <summary>SubmitUpdate: writing the payload to the pending folder (and flushing it to disk when durable).</summary>
    public const string UpdatePersist = "confide.server.update.persist";

    /// <summary>SubmitUpdate: waiting for the round lock, validating in the coordinator and recording the submission row.</summary>
    public const string UpdateCommit = "confide.server.update.commit";

    /// <summary>SubmitUpdate, part of <see cref="UpdateCommit"/>: waiting for the round lock.</summary>
    public const string UpdateLockWait = "confide.server.update.lock_wait";

    /// <summary>SubmitUpdate, part of <see cref="UpdateCommit"/>: the coordinator's validation (layout, finite values, bounds).</summary>
    public const string UpdateValidate = "confide.server.update.validate";

    /// <summary>SubmitUpdate, part of <see cref="UpdateCommit"/>: the submission row's SQLite commit (not yet flushed for an acceptance).</summary>
    public const string UpdateRecord = "confide.server.update.record";

    /// <summary>SubmitUpdate, after the commit: waiting for the group flush that makes the acceptance durable.</summary>
    public const string UpdateFlush = "confide.server.update.flush";

    /// <summary>The round's aggregation step (the coordinator's poll that aggregates, including DP and the optimiser).</summary>
    public const string RoundAggregate = "confide.server.round.aggregate";

    /// <summary>Writing a completed round: the checkpoint file and the round's rows.</summary>
    public const string RoundPersist = "confide.server.round.persist";

    /// <summary>FetchTask requests served (each one a signed request: the polling load).</summary>
    public const string TaskRequests = "confide.server.task.requests";

    private static readonly Meter Meter = new(MeterName);

    internal static readonly Histogram<double> ModelSendSeconds = Meter.CreateHistogram<double>(ModelSend, "s");
    internal static readonly Histogram<double> UpdateReceiveSeconds = Meter.CreateHistogram<double>(UpdateReceive, "s");
    internal static readonly Histogram<double> UpdateDecodeSeconds = Meter.CreateHistogram<double>(UpdateDecode, "s");
    internal static readonly Histogram<double> UpdatePersistSeconds = Meter.CreateHistogram<double>(UpdatePersist, "s");
    internal static readonly Histogram<double> UpdateCommitSeconds = Meter.CreateHistogram<double>(UpdateCommit, "s");
    internal static readonly Histogram<double> UpdateLockWaitSeconds = Meter.CreateHistogram<double>(UpdateLockWait, "s");
    internal static readonly Histogram<double> UpdateValidateSeconds = Meter.CreateHistogram<double>(UpdateValidate, "s");
    internal static readonly Histogram<double> UpdateRecordSeconds = Meter.CreateHistogram<double>(UpdateRecord, "s");
    internal static readonly Histogram<double> UpdateFlushSeconds = Meter.CreateHistogram<double>(UpdateFlush, "s");
    internal static readonly Histogram<double> RoundAggregateSeconds = Meter.CreateHistogram<double>(RoundAggregate, "s");
    internal static readonly Histogram<double> RoundPersistSeconds = Meter.CreateHistogram<double>(RoundPersist, "s");
    internal static readonly Counter<long> TaskRequestCount = Meter.CreateCounter<long>(TaskRequests, "{request}");

    /// <summary>Records the seconds since <paramref name="startTimestamp"/> (from <see cref="Stopwatch.GetTimestamp"/>).</summary>
    internal static void RecordSince(Histogram<double> histogram, long startTimestamp)
    {
        if (histogram.Enabled)
        {
            histogram.Record(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds);
        }
    }
}
