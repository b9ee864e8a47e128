using System.Diagnostics;
using Confide.Training.Internal;

namespace Confide.Benchmarks;

/// <summary>Best-of-5 single-thread throughput of the blocked GEMM on the shapes the MLP and CNN use.</summary>
internal static class GemmProbe
{
    public static int Run()
    {
        var rng = new Random(1);
        float[] R(int n) { var a = new float[n]; for (int i = 0; i < n; i++) a[i] = (float)rng.NextDouble(); return a; }
        void Time(string name, int m, int k, int n, bool ta, int reps)
        {
            var a = R(m * k); var b = R(k * n); var c = new float[m * n];
            Gemm.Multiply(a, ta, b, c, m, k, n, false);
            double best = double.MaxValue;
            for (int t = 0; t < 5; t++)
            {
                var sw = Stopwatch.StartNew();
                for (int r = 0; r < reps; r++) Gemm.Multiply(a, ta, b, c, m, k, n, false);
                best = Math.Min(best, sw.Elapsed.TotalSeconds / reps);
            }
            Console.WriteLine($"{name,-28} {best * 1e6,9:F1} us  {2.0 * m * k * n / best / 1e9,6:F1} GFLOP/s");
        }
        Time("fwd 32x784x200", 32, 784, 200, false, 200);
        Time("dW 200x(32)x784 transA", 200, 32, 784, true, 200);
        Time("fwd 64x784x200", 64, 784, 200, false, 200);
        Time("dX 32x200x784 (unused)", 32, 200, 784, false, 200);
        Time("fwd2 32x200x10", 32, 200, 10, false, 2000);
        Time("conv1 18432x25x6", 18432, 25, 6, false, 20);
        Time("conv2 2048x150x16", 2048, 150, 16, false, 50);
        Time("conv1 dW 6x18432x25 tA", 6, 18432, 25, true, 20);
        var w = R(200 * 784); var wt = new float[200 * 784];
        var sw2 = Stopwatch.StartNew();
        for (int r = 0; r < 200; r++) Gemm.Transpose(w, 200, 784, wt);
        Console.WriteLine($"transpose 200x784 {sw2.Elapsed.TotalSeconds / 200 * 1e6:F1} us");
        return 0;
    }
}
