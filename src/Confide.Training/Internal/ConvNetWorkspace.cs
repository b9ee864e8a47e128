using Confide.Training.Models;

namespace Confide.Training.Internal;

/// <summary>Per-thread buffers of a <see cref="ConvNet"/> for batches of up to <see cref="MaxBatch"/> images.</summary>
internal sealed class ConvNetWorkspace : IModelWorkspace
{
    private readonly ConvNet _net;
    private readonly int _c0, _h0, _w0, _c1, _h1, _w1, _c2, _h2, _w2, _k, _p, _k1, _k2, _flat;
    private readonly float[] _rows1, _act1, _pool1, _rows2, _act2, _features;
    private readonly int[] _arg1, _arg2;
    private readonly float[] _dFeatures, _dAct2, _dRows2, _dPool1, _dAct1;
    private readonly DenseStack.Workspace _head;

    public ConvNetWorkspace(ConvNet net, int maxBatch)
    {
        _net = net;
        var o = net.Options;
        MaxBatch = maxBatch;
        (_c0, _h0, _w0) = (o.InputShape.Channels, o.InputShape.Height, o.InputShape.Width);
        (_c1, _h1, _w1) = (o.Conv1Channels, o.Conv1Height, o.Conv1Width);
        (_c2, _h2, _w2) = (o.Conv2Channels, o.Conv2Height, o.Conv2Width);
        (_k, _p) = (o.KernelSize, o.Padding);
        _k1 = _c0 * _k * _k;
        _k2 = _c1 * _k * _k;
        _flat = o.FlatSize;
        int p1 = _h1 * _w1;
        int pooled1 = (_h1 / 2) * (_w1 / 2);
        int p2 = _h2 * _w2;
        _rows1 = new float[checked(maxBatch * p1 * _k1)];
        _act1 = new float[checked(maxBatch * p1 * _c1)];
        _pool1 = new float[checked(maxBatch * pooled1 * _c1)];
        _arg1 = new int[_pool1.Length];
        _rows2 = new float[checked(maxBatch * p2 * _k2)];
        _act2 = new float[checked(maxBatch * p2 * _c2)];
        _features = new float[checked(maxBatch * _flat)];
        _arg2 = new int[_features.Length];
        _dFeatures = new float[_features.Length];
        _dAct2 = new float[_act2.Length];
        _dRows2 = new float[_rows2.Length];
        _dPool1 = new float[_pool1.Length];
        _dAct1 = new float[_act1.Length];
        _head = net.Head.CreateWorkspace(maxBatch);
    }

    public int MaxBatch { get; }

    public double Evaluate(ReadOnlySpan<float> parameters, ReadOnlySpan<float> inputs, ReadOnlySpan<int> labels, Span<int> predictions)
    {
        ModelChecks.Length(parameters, _net.Layout);
        int batch = ModelChecks.Batch(inputs, labels, _net.InputShape.Size, MaxBatch);
        var logits = Forward(parameters, inputs, batch);
        return Kernels.SoftmaxCrossEntropy(logits, batch, _net.ClassCount, labels, predictions, 0, default);
    }

    public double LossAndGradient(ReadOnlySpan<float> parameters, ReadOnlySpan<float> inputs, ReadOnlySpan<int> labels, float scale, Span<float> gradient)
    {
        ModelChecks.Length(parameters, _net.Layout);
        ModelChecks.Length(gradient, _net.Layout);
        int batch = ModelChecks.Batch(inputs, labels, _net.InputShape.Size, MaxBatch);
        var logits = Forward(parameters, inputs, batch);
        double loss = Kernels.SoftmaxCrossEntropy(logits, batch, _net.ClassCount, labels, default, scale, _head.LogitGradient(batch));

        // Fully connected head, including ∂/∂features.
        var dFeatures = _dFeatures.AsSpan(0, batch * _flat);
        _head.Backward(parameters, _features.AsSpan(0, batch * _flat), batch, gradient, dFeatures);

        // Second block: un-pool, ReLU, then the convolution's three products.
        int m2 = batch * _h2 * _w2;
        var dAct2 = _dAct2.AsSpan(0, m2 * _c2);
        Conv.MaxPoolBackward(dFeatures, _arg2, batch * _flat, dAct2, dAct2.Length);
        Kernels.ReluBackward(_act2.AsSpan(0, m2 * _c2), dAct2);
        var w2 = parameters.Slice(_net.Conv2Weight.Offset, _net.Conv2Weight.Length);
        Gemm.Multiply(dAct2, true, _rows2.AsSpan(0, m2 * _k2), gradient.Slice(_net.Conv2Weight.Offset, _net.Conv2Weight.Length), _c2, m2, _k2, accumulate: false);
        Kernels.ColumnSums(dAct2, m2, gradient.Slice(_net.Conv2Bias.Offset, _c2));
        var dRows2 = _dRows2.AsSpan(0, m2 * _k2);
        Gemm.Multiply(dAct2, false, w2, dRows2, m2, _c2, _k2, accumulate: false);
        int pooled1 = batch * (_h1 / 2) * (_w1 / 2) * _c1;
        var dPool1 = _dPool1.AsSpan(0, pooled1);
        Conv.Row2Im(dRows2, batch, _h1 / 2, _w1 / 2, _c1, _k, _p, dPool1);

        // First block: no gradient is needed for the input images.
        int m1 = batch * _h1 * _w1;
        var dAct1 = _dAct1.AsSpan(0, m1 * _c1);
        Conv.MaxPoolBackward(dPool1, _arg1, pooled1, dAct1, dAct1.Length);
        Kernels.ReluBackward(_act1.AsSpan(0, m1 * _c1), dAct1);
        Gemm.Multiply(dAct1, true, _rows1.AsSpan(0, m1 * _k1), gradient.Slice(_net.Conv1Weight.Offset, _net.Conv1Weight.Length), _c1, m1, _k1, accumulate: false);
        Kernels.ColumnSums(dAct1, m1, gradient.Slice(_net.Conv1Bias.Offset, _c1));
        return loss;
    }

    private ReadOnlySpan<float> Forward(ReadOnlySpan<float> parameters, ReadOnlySpan<float> inputs, int batch)
    {
        int m1 = batch * _h1 * _w1;
        var rows1 = _rows1.AsSpan(0, m1 * _k1);
        Conv.Im2Row(inputs, batch, _h0, _w0, _c0, _k, _p, rows1);
        var act1 = _act1.AsSpan(0, m1 * _c1);
        Gemm.Multiply(rows1, false, parameters.Slice(_net.Conv1Weight.Offset, _net.Conv1Weight.Length), true, act1, m1, _k1, _c1, accumulate: false);
        Kernels.AddBiasRows(act1, m1, parameters.Slice(_net.Conv1Bias.Offset, _c1));
        Kernels.Relu(act1);
        int pooled1 = batch * (_h1 / 2) * (_w1 / 2) * _c1;
        Conv.MaxPool(act1, batch, _h1, _w1, _c1, _pool1, _arg1);

        int m2 = batch * _h2 * _w2;
        var rows2 = _rows2.AsSpan(0, m2 * _k2);
        Conv.Im2Row(_pool1.AsSpan(0, pooled1), batch, _h1 / 2, _w1 / 2, _c1, _k, _p, rows2);
        var act2 = _act2.AsSpan(0, m2 * _c2);
        Gemm.Multiply(rows2, false, parameters.Slice(_net.Conv2Weight.Offset, _net.Conv2Weight.Length), true, act2, m2, _k2, _c2, accumulate: false);
        Kernels.AddBiasRows(act2, m2, parameters.Slice(_net.Conv2Bias.Offset, _c2));
        Kernels.Relu(act2);
        Conv.MaxPool(act2, batch, _h2, _w2, _c2, _features, _arg2);
        return _head.Forward(parameters, _features.AsSpan(0, batch * _flat), batch);
    }
}
