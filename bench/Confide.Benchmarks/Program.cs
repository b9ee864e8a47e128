using BenchmarkDotNet.Running;
using Confide.Benchmarks;

// Run with: dotnet run -c Release --project bench/Confide.Benchmarks -- --filter '*'
// Real training epochs with accuracy: dotnet run -c Release --project bench/Confide.Benchmarks -- epoch mlp 1
// Single-thread GEMM throughput for the shapes the models use: ... -- gemm
if (args.Length > 0 && args[0] == "gemm") { return GemmProbe.Run(); }
if (args.Length > 0 && args[0] == "cnn") { return CnnProbe.Run(); }
// Per-operation CPU cost of a secure-aggregation client and the full-graph total at n = 500: ... -- secagg-costs
if (args.Length > 0 && args[0] == "secagg-costs") { return SecAggCostProbe.Run(); }
if (args.Length > 0 && args[0] == "epoch")
{
    return EpochTimer.Run(args);
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
