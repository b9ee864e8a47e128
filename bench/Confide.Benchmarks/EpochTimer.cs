using System.Diagnostics;
using Confide.Randomness;
using Confide.Training;
using Confide.Training.Data;
using Confide.Training.Models;

namespace Confide.Benchmarks;

/// <summary>
/// Times real training epochs outside BenchmarkDotNet, and reports test accuracy after each, so the figures can be set
/// next to PyTorch's. Run: dotnet run -c Release --project bench/Confide.Benchmarks -- epoch [mlp|cnn] [epochs] [data-dir]
/// Without Fashion-MNIST installed it times synthetic images of the same shape.
/// </summary>
internal static class EpochTimer
{
    public static int Run(string[] args)
    {
        string kind = args.Length > 1 ? args[1] : "mlp";
        int epochs = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 1;
        string? dir = args.Length > 3 ? args[3] : null;
        Dataset train;
        Dataset? test = null;
        try
        {
            var fm = FashionMnistSource.Load(dir);
            (train, test) = (fm.Train, fm.Test);
        }
        catch (FileNotFoundException ex)
        {
            Console.WriteLine($"({ex.Message} Timing synthetic images instead.)");
            train = TrainingBenchmarks.SyntheticImages(60_000, 28, seed: 1);
        }

        var shape = train.Shape;
        IModel model = kind == "cnn" ? new ConvNet(ConvNetOptions.NiidBench(shape, 10)) : new MultilayerPerceptron(shape, [200], 10);
        var classifier = new SgdClassifier(model, new SeededRandomSource(1));
        var options = new TrainingOptions { Epochs = 1, BatchSize = 64, LearningRate = 0.05, Momentum = 0.9, Parallelism = Environment.ProcessorCount };
        Console.WriteLine($"{model.Name}, {train.Count} training images, batch 64, lr 0.05, momentum 0.9, {options.Parallelism} threads");
        var rng = new SeededRandomSource(2);
        for (int e = 1; e <= epochs; e++)
        {
            var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
            var sw = Stopwatch.StartNew();
            var report = classifier.Train(train, options, rng);
            sw.Stop();
            double cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds;
            string accuracy = test is null ? "" : $", test accuracy {classifier.Evaluate(test).Accuracy:F4}";
            Console.WriteLine($"epoch {e}: {sw.Elapsed.TotalSeconds:F2} s wall, {cpu:F2} s CPU, train loss {report.MeanLoss:F4}{accuracy}");
        }

        return 0;
    }
}
