using Confide.Training.Simulation;

namespace Confide.Training.Tests.Simulation;

public sealed class RootTrainingScheduleTests
{
    private static readonly TrainingOptions FashionTable = new() { Epochs = 2, BatchSize = 64, LearningRate = 0.01, Momentum = 0.9 };

    [Theory]
    [InlineData(100, 64, 2)]
    [InlineData(128, 64, 2)]
    [InlineData(129, 64, 3)]
    [InlineData(13, 16, 1)]
    [InlineData(1, 1, 1)]
    public void StepsPerEpochCountsThePartialLastBatch(int samples, int batch, int expected) =>
        Assert.Equal(expected, RootTrainingSchedule.StepsPerEpoch(samples, batch));

    [Fact]
    public void TheServerTakesAsManyStepsAsTheMedianClient()
    {
        // The Fashion-MNIST table: about 2,995 samples a client, 2 epochs of batch 64 = 2·47 = 94 steps.
        // The 100-sample root set takes 2 steps an epoch, so 47 epochs give the same 94 steps (not the clients' 2 epochs = 4).
        int[] clients = [2995, 2995, 2995, 2995, 2995];
        int epochs = RootTrainingSchedule.RootEpochs(100, clients, FashionTable);
        Assert.Equal(47, epochs);
        Assert.Equal(94, epochs * RootTrainingSchedule.StepsPerEpoch(100, 64));
    }

    [Fact]
    public void RootStepsAreTheMedianClientsSteps()
    {
        Assert.Equal(94, RootTrainingSchedule.RootSteps([2995, 3100, 2900], FashionTable));
        // Default digits run: 13 samples, 5 epochs of 16 = 5 steps, fewer than one pass over the root set (7 steps).
        Assert.Equal(5, RootTrainingSchedule.RootSteps([13, 14, 13], new TrainingOptions { Epochs = 5, BatchSize = 16 }));
    }

    [Fact]
    public void RoundsUpToWholePassesOverTheRootSet()
    {
        // 3 steps an epoch over 150 samples; a client with 200 samples takes 2·4 = 8 steps, so 3 passes (9 steps).
        Assert.Equal(3, RootTrainingSchedule.RootEpochs(150, [200], FashionTable));
    }

    [Fact]
    public void UsesTheLowerMedianSoOutliersDoNotSetThePace()
    {
        // Steps per client at 2 epochs of 64: 64 → 2, 640 → 20, 6,400 → 200, 64,000 → 2,000. Lower median = 20 → 10 epochs.
        Assert.Equal(10, RootTrainingSchedule.RootEpochs(100, [64_000, 64, 6_400, 640], FashionTable));
        // One huge client among five does not move the median (20 steps).
        Assert.Equal(10, RootTrainingSchedule.RootEpochs(100, [640, 640, 640, 64, 10_000_000], FashionTable));
    }

    [Fact]
    public void SmallClientsGiveOnePassEvenWhenTheyTrainForMoreEpochs()
    {
        // The default digits run: about 13 samples a client, 5 epochs of batch 16 = 5 steps; the root set's 7 steps an
        // epoch already cover that: one pass, stopped after 5 steps (the old rule gave 5 passes = 35 steps, seven times a client's).
        var digits = new TrainingOptions { Epochs = 5, BatchSize = 16 };
        Assert.Equal(1, RootTrainingSchedule.RootEpochs(100, [13, 14, 13], digits));
        Assert.Equal(5, RootTrainingSchedule.RootSteps([13, 14, 13], digits));
    }

    [Fact]
    public void BadInputIsRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => RootTrainingSchedule.StepsPerEpoch(0, 64));
        Assert.Throws<ArgumentOutOfRangeException>(() => RootTrainingSchedule.StepsPerEpoch(10, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => RootTrainingSchedule.RootEpochs(0, [10], FashionTable));
        Assert.Throws<ArgumentException>(() => RootTrainingSchedule.RootSteps([], FashionTable));
        var none = Assert.Throws<ArgumentException>(() => RootTrainingSchedule.RootEpochs(100, [], FashionTable));
        Assert.Contains("no participating clients", none.Message, StringComparison.Ordinal);
        var zero = Assert.Throws<ArgumentException>(() => RootTrainingSchedule.RootEpochs(100, [10, 0], FashionTable));
        Assert.Contains("positive", zero.Message, StringComparison.Ordinal);
    }
}
