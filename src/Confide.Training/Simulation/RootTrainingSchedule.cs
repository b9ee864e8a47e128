namespace Confide.Training.Simulation;

/// <summary>
/// How long the FLTrust server trains on its root set each round. In Cao et al., "FLTrust: Byzantine-robust Federated
/// Learning via Trust Bootstrapping" (NDSS 2021), Algorithm 1, the server update g₀ and every client update gᵢ come
/// from the same procedure: R local SGD iterations of batch b at rate β from the current global model. The number of
/// SGD steps, not the number of passes over the data, is what the two share.
/// </summary>
/// <remarks>
/// <para>Confide's clients train for E epochs, so a client with n samples takes E·⌈n/B⌉ steps. Training the server
/// for the same E epochs over its 100-sample root set gave it far fewer steps than a client with thousands of samples
/// (4 against about 94 on the Fashion-MNIST robustness table), so ‖g₀‖, to which FLTrust rescales every client update,
/// was a fraction of a client's update and the global model crawled; with clients smaller than the root set it gave
/// the server more steps than any client (35 against 5 on the default digits run), and the model overshot. The server
/// now takes exactly the step count of the round's median participant (<see cref="RootSteps"/>), passing over the root
/// set as many times as that needs (<see cref="RootEpochs"/>) and stopping part-way through the last pass
/// (<see cref="TrainingOptions.MaxSteps"/>). Clients differ in size under label or quantity skew; the (lower) median is
/// the typical client and a few outliers cannot move it far.</para>
/// <para>With many steps on 100 samples the server model overfits its root set within a round, so ‖g₀‖ can exceed a
/// client's norm; FLTrust's global learning rate α (<see cref="AggregatorSpelling.DefaultFlTrustAlpha"/>) is the knob
/// for that. The paper's single local step avoids it, but its clients also take a single step.</para>
/// </remarks>
public static class RootTrainingSchedule
{
    /// <summary>SGD steps one pass of <paramref name="samples"/> samples takes at batch size <paramref name="batchSize"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A count is not positive.</exception>
    public static int StepsPerEpoch(int samples, int batchSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(samples);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        // SgdClassifier caps the batch at the data size, so a set smaller than B is one step.
        return (samples + batchSize - 1) / batchSize;
    }

    /// <summary>The SGD steps of the median of <paramref name="clientSamples"/> in <paramref name="training"/>'s epochs
    /// (the lower median for an even count): E·⌈n/B⌉.</summary>
    /// <exception cref="ArgumentException">No client sizes, or a size that is not positive.</exception>
    public static int RootSteps(IReadOnlyCollection<int> clientSamples, TrainingOptions training)
    {
        ArgumentNullException.ThrowIfNull(clientSamples);
        ArgumentNullException.ThrowIfNull(training);
        if (clientSamples.Count == 0)
        {
            throw new ArgumentException("FLTrust root schedule: no participating clients; expected at least one client size.", nameof(clientSamples));
        }

        if (clientSamples.Any(n => n <= 0))
        {
            throw new ArgumentException("FLTrust root schedule: every client size must be positive.", nameof(clientSamples));
        }

        var steps = clientSamples.Select(n => (long)training.Epochs * StepsPerEpoch(n, training.BatchSize)).Order().ToArray();
        // Lower median for an even count: the server never outpaces the typical client.
        return (int)Math.Min(int.MaxValue, steps[(steps.Length - 1) / 2]);
    }

    /// <summary>
    /// The epochs over a root set of <paramref name="rootSize"/> samples that give the server at least as many SGD steps
    /// as the median of <paramref name="clientSamples"/> takes in <paramref name="training"/>'s epochs (at least one).
    /// </summary>
    /// <exception cref="ArgumentException">No client sizes, or a size that is not positive.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The root size is not positive.</exception>
    public static int RootEpochs(int rootSize, IReadOnlyCollection<int> clientSamples, TrainingOptions training)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rootSize);
        long median = RootSteps(clientSamples, training);
        long perRootEpoch = StepsPerEpoch(rootSize, training.BatchSize);
        return (int)Math.Max(1, (median + perRootEpoch - 1) / perRootEpoch);
    }
}
