using Confide.Protocol.Internal;

namespace Confide.Protocol.SecureAggregation;

/// <summary>
/// How long each stage of a networked secure-aggregation round (Bonawitz et al. 2017, Figure 4) waits for its client
/// messages. Each duration runs from the moment the previous stage closed (AdvertiseKeys: from the start of the
/// round, so it also covers downloading the model and local training). Validated where built.
/// </summary>
public sealed record SecAggStageDeadlines
{
    /// <summary>Creates the deadlines; every duration must be positive.</summary>
    public SecAggStageDeadlines(TimeSpan advertiseKeys, TimeSpan shareKeys, TimeSpan maskedInput, TimeSpan consistencyCheck, TimeSpan unmasking)
    {
        Check(advertiseKeys, nameof(advertiseKeys));
        Check(shareKeys, nameof(shareKeys));
        Check(maskedInput, nameof(maskedInput));
        Check(consistencyCheck, nameof(consistencyCheck));
        Check(unmasking, nameof(unmasking));
        AdvertiseKeys = advertiseKeys;
        ShareKeys = shareKeys;
        MaskedInput = maskedInput;
        ConsistencyCheck = consistencyCheck;
        Unmasking = unmasking;
    }

    /// <summary>Round start → AdvertiseKeys closes (covers training).</summary>
    public TimeSpan AdvertiseKeys { get; }

    /// <summary>AdvertiseKeys closed → ShareKeys closes.</summary>
    public TimeSpan ShareKeys { get; }

    /// <summary>ShareKeys closed → MaskedInputCollection closes.</summary>
    public TimeSpan MaskedInput { get; }

    /// <summary>MaskedInputCollection closed → ConsistencyCheck closes.</summary>
    public TimeSpan ConsistencyCheck { get; }

    /// <summary>ConsistencyCheck closed → Unmasking closes.</summary>
    public TimeSpan Unmasking { get; }

    /// <summary>The training stage gets <paramref name="advertiseKeys"/>, every later stage <paramref name="eachLaterStage"/>.</summary>
    public static SecAggStageDeadlines Uniform(TimeSpan advertiseKeys, TimeSpan eachLaterStage) =>
        new(advertiseKeys, eachLaterStage, eachLaterStage, eachLaterStage, eachLaterStage);

    /// <summary>The sum of all five durations: the longest a round can take.</summary>
    public TimeSpan Total => AdvertiseKeys + ShareKeys + MaskedInput + ConsistencyCheck + Unmasking;

    /// <summary>The duration of <paramref name="stage"/>.</summary>
    public TimeSpan For(SecAggStage stage) => stage switch
    {
        SecAggStage.AdvertiseKeys => AdvertiseKeys,
        SecAggStage.ShareKeys => ShareKeys,
        SecAggStage.MaskedInputCollection => MaskedInput,
        SecAggStage.ConsistencyCheck => ConsistencyCheck,
        SecAggStage.Unmasking => Unmasking,
        _ => throw new ArgumentOutOfRangeException(nameof(stage), stage, "Only the five protocol stages have deadlines."),
    };

    private static void Check(TimeSpan value, string name) => OptionChecks.PositiveDuration(value, name, $"The {name} stage deadline");
}
