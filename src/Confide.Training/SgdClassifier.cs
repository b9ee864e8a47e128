using System.Numerics.Tensors;
using Confide.Parameters;
using Confide.Randomness;
using Confide.Training.Data;
using Confide.Training.Internal;
using Confide.Training.Models;

namespace Confide.Training;

/// <summary>
/// An <see cref="ITrainableModel"/> for any <see cref="IModel"/>: mini-batch SGD with momentum, weight decay and an
/// optional FedProx term. The momentum buffer starts at zero on every <see cref="Train"/> call, as with a fresh
/// optimiser per federated round. Each epoch visits every sample once in an order drawn from the random source;
/// the last batch may be smaller (PyTorch's <c>drop_last=False</c>).
/// </summary>
/// <remarks>
/// With <see cref="TrainingOptions.Parallelism"/> &gt; 1 each batch is split into fixed contiguous slices, one per
/// thread, and the slice gradients are summed in slice order, so a run is reproducible for a given parallelism.
/// </remarks>
public sealed class SgdClassifier : ITrainableModel
{
    private const int EvaluationBatch = 256;
    private const int MinimumSlice = 8;

    private readonly float[] _weights;
    private readonly List<IModelWorkspace> _workspaces = [];
    private int _workspaceBatch;

    /// <summary>Creates the classifier with fresh weights drawn from <paramref name="random"/>.</summary>
    public SgdClassifier(IModel model, IRandomSource random)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(random);
        Model = model;
        _weights = new float[model.Layout.TotalLength];
        model.Initialize(_weights, random);
    }

    /// <summary>The architecture.</summary>
    public IModel Model { get; }

    /// <inheritdoc/>
    public string Name => Model.Name;

    /// <inheritdoc/>
    public ParameterLayout Layout => Model.Layout;

    /// <inheritdoc/>
    public ModelParameters GetParameters() => new(Layout, (float[])_weights.Clone());

    /// <inheritdoc/>
    public void SetParameters(ModelParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!parameters.Layout.Equals(Layout))
        {
            throw new ArgumentException($"The parameters do not fit model '{Name}': {Layout.DescribeDifference(parameters.Layout)}.", nameof(parameters));
        }

        parameters.AsSpan().CopyTo(_weights);
    }

    /// <inheritdoc/>
    public TrainingReport Train(Dataset data, TrainingOptions options, IRandomSource random)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(random);
        CheckCompatible(data);
        int n = data.Count;
        if (n == 0)
        {
            return new TrainingReport(0, 0, double.NaN, false);
        }

        int batch = Math.Min(options.BatchSize, n);
        int threads = Math.Max(1, Math.Min(options.Parallelism, batch / MinimumSlice));
        int slice = (batch + threads - 1) / threads;
        EnsureWorkspaces(threads, slice);

        int size = data.FeatureSize;
        int length = _weights.Length;
        var gradients = new float[threads][];
        for (int t = 0; t < threads; t++)
        {
            gradients[t] = new float[length];
        }

        var velocity = new float[length];
        float[]? anchor = options.ProximalMu > 0 ? (float[])_weights.Clone() : null;
        var batchX = new float[batch * size];
        var batchY = new int[batch];
        var losses = new double[threads];
        var order = new int[n];
        for (int i = 0; i < n; i++)
        {
            order[i] = i;
        }

        float lr = (float)options.LearningRate;
        float momentum = (float)options.Momentum;
        float decay = (float)options.WeightDecay;
        float mu = (float)options.ProximalMu;
        int steps = 0;
        int maxSteps = options.MaxSteps ?? int.MaxValue;
        double epochLoss = double.NaN;
        for (int epoch = 0; epoch < options.Epochs && steps < maxSteps; epoch++)
        {
            Shuffle(order, random);
            double lossSum = 0;
            int seen = 0;
            for (int start = 0; start < n && steps < maxSteps; start += batch)
            {
                int b = Math.Min(batch, n - start);
                seen += b;
                for (int i = 0; i < b; i++)
                {
                    int j = order[start + i];
                    data.Sample(j).CopyTo(batchX.AsSpan(i * size, size));
                    batchY[i] = data.Label(j);
                }

                float scale = 1f / b;
                int used = Math.Max(1, Math.Min(threads, b / MinimumSlice));
                if (used == 1)
                {
                    lossSum += _workspaces[0].LossAndGradient(_weights, batchX.AsSpan(0, b * size), batchY.AsSpan(0, b), scale, gradients[0]);
                }
                else
                {
                    int per = (b + used - 1) / used;
                    Parallel.For(0, used, new ParallelOptions { MaxDegreeOfParallelism = used }, t =>
                    {
                        int from = t * per;
                        int count = Math.Min(per, b - from);
                        losses[t] = _workspaces[t].LossAndGradient(
                            _weights, batchX.AsSpan(from * size, count * size), batchY.AsSpan(from, count), scale, gradients[t]);
                    });
                    for (int t = 0; t < used; t++)
                    {
                        lossSum += losses[t];
                    }
                }

                if (!double.IsFinite(lossSum))
                {
                    return new TrainingReport(n, steps, double.NaN, Diverged: true);
                }

                // The slice gradients are summed inside the fused step, in slice order.
                Kernels.SgdStep(_weights, gradients, used, velocity, anchor, lr, momentum, decay, mu, threads);
                steps++;
            }

            epochLoss = lossSum / seen;
        }

        bool diverged = !TensorPrimitives.IsFiniteAll<float>(_weights);
        return new TrainingReport(n, steps, diverged ? double.NaN : epochLoss, diverged);
    }

    /// <inheritdoc/>
    public Evaluation Evaluate(Dataset data)
    {
        ArgumentNullException.ThrowIfNull(data);
        CheckCompatible(data);
        int n = data.Count;
        if (n == 0)
        {
            throw new ArgumentException($"Data set '{data.Name}' is empty; there is nothing to evaluate.", nameof(data));
        }

        int chunks = (n + EvaluationBatch - 1) / EvaluationBatch;
        int threads = Math.Min(Environment.ProcessorCount, chunks);
        EnsureWorkspaces(threads, EvaluationBatch);
        var losses = new double[chunks];
        var correct = new int[chunks];
        int size = data.FeatureSize;
        // Each thread takes a fixed stripe of chunks with its own workspace; sums are formed in chunk order.
        float[] allFeatures = data.FeatureArray;
        int[] allLabels = data.LabelArray;
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            var predictions = new int[EvaluationBatch];
            for (int c = t; c < chunks; c += threads)
            {
                int from = c * EvaluationBatch;
                int count = Math.Min(EvaluationBatch, n - from);
                var labels = allLabels.AsSpan(from, count);
                losses[c] = _workspaces[t].Evaluate(_weights, allFeatures.AsSpan(from * size, count * size), labels, predictions.AsSpan(0, count));
                int hits = 0;
                for (int i = 0; i < count; i++)
                {
                    hits += predictions[i] == labels[i] ? 1 : 0;
                }

                correct[c] = hits;
            }
        });

        return new Evaluation(n, losses.Sum() / n, (double)correct.Sum() / n);
    }

    /// <inheritdoc/>
    public override string ToString() => $"SgdClassifier({Name})";

    private void CheckCompatible(Dataset data)
    {
        if (data.Shape != Model.InputShape || data.ClassCount != Model.ClassCount)
        {
            throw new ArgumentException(
                $"Data set '{data.Name}' has samples of shape {data.Shape} and {data.ClassCount} classes, but model '{Name}' expects {Model.InputShape} and {Model.ClassCount}.",
                nameof(data));
        }
    }

    private void EnsureWorkspaces(int count, int batch)
    {
        if (batch > _workspaceBatch)
        {
            _workspaces.Clear();
            _workspaceBatch = batch;
        }

        while (_workspaces.Count < count)
        {
            _workspaces.Add(Model.CreateWorkspace(_workspaceBatch));
        }
    }

    private static void Shuffle(int[] order, IRandomSource random)
    {
        // Fisher–Yates with the injected source, so the epoch order is reproducible.
        for (int i = order.Length - 1; i > 0; i--)
        {
            int j = random.NextInt32(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
    }
}
