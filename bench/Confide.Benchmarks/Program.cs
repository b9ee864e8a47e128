using BenchmarkDotNet.Running;
using Confide.Benchmarks;

// Run with: dotnet run -c Release --project bench/Confide.Benchmarks -- --filter '*'
// Real training epochs with accuracy: dotnet run -c Release --project bench/Confide.Benchmarks -- epoch mlp 1
if (args.Length > 0 && args[0] == "epoch")
{
    return EpochTimer.Run(args);
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
