using System.Diagnostics;
using Confide.Training.Internal;

namespace Confide.Benchmarks;

internal static class CnnProbe
{
    public static int Run()
    {
        var rng = new Random(1);
        float[] R(int n) { var a = new float[n]; for (int i = 0; i < n; i++) a[i] = (float)rng.NextDouble(); return a; }
        void T(string name, int reps, Action a)
        {
            a();
            double best = double.MaxValue;
            for (int t = 0; t < 5; t++) { var sw = Stopwatch.StartNew(); for (int r = 0; r < reps; r++) a(); best = Math.Min(best, sw.Elapsed.TotalSeconds / reps); }
            Console.WriteLine($"{name,-30} {best * 1e6,9:F1} us");
        }
        int B = 32;
        var x = R(B * 784); var rows1 = new float[B * 576 * 25]; var act1 = R(B * 576 * 6); var pool1 = new float[B * 144 * 6]; var arg1 = new int[pool1.Length];
        var rows2 = new float[B * 64 * 150]; var w1 = R(150); var w2 = R(2400);
        T("im2row1", 50, () => Conv.Im2Row(x, B, 28, 28, 1, 5, 0, rows1));
        T("gemm conv1 fwd", 50, () => Gemm.Multiply(rows1, false, w1, true, act1, B * 576, 25, 6, false));
        T("relu act1", 50, () => Kernels.Relu(act1));
        T("bias act1", 50, () => Kernels.AddBiasRows(act1, B * 576, w1.AsSpan(0, 6)));
        T("maxpool1", 50, () => Conv.MaxPool(act1, B, 24, 24, 6, pool1, arg1));
        T("im2row2", 50, () => Conv.Im2Row(pool1, B, 12, 12, 6, 5, 0, rows2));
        var act2 = new float[B * 64 * 16];
        T("gemm conv2 fwd", 50, () => Gemm.Multiply(rows2, false, w2, true, act2, B * 64, 150, 16, false));
        var g2 = new float[2400]; var g1 = new float[150];
        T("gemm conv2 dW", 50, () => Gemm.Multiply(act2, true, rows2, g2, 16, B * 64, 150, false));
        var drows2 = new float[rows2.Length];
        T("gemm conv2 dRows", 50, () => Gemm.Multiply(act2, false, w2, drows2, B * 64, 16, 150, false));
        var dpool1 = new float[pool1.Length];
        T("row2im2", 50, () => Conv.Row2Im(drows2, B, 12, 12, 6, 5, 0, dpool1));
        var dact1 = new float[act1.Length];
        T("maxpool1 back", 50, () => Conv.MaxPoolBackward(dpool1, arg1, pool1.Length, dact1, dact1.Length));
        T("relu back act1", 50, () => Kernels.ReluBackward(act1, dact1));
        T("gemm conv1 dW", 50, () => Gemm.Multiply(dact1, true, rows1, g1, 6, B * 576, 25, false));
        T("colsum conv1", 50, () => Kernels.ColumnSums(dact1, B * 576, g1.AsSpan(0, 6)));
        var net = new Confide.Training.Models.ConvNet(Confide.Training.Models.ConvNetOptions.NiidBench(new Confide.Training.Data.ImageShape(1, 28, 28), 10));
        var p = new float[net.Layout.TotalLength]; net.Initialize(p, new Confide.Randomness.SeededRandomSource(1));
        var ws = net.CreateWorkspace(B); var g = new float[p.Length]; var y = new int[B];
        T("whole LossAndGradient", 20, () => ws.LossAndGradient(p, x, y, 1f / B, g));
        return 0;
    }
}
