using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Confide.Privacy.Internal;
using Confide.Randomness;

namespace Confide.Privacy;

/// <summary>
/// Continuous Gaussian noise by the Box–Muller transform (Box and Muller, "A Note on the Generation of Random Normal
/// Deviates", 1958), vectorised over large blocks of random bytes from an <see cref="IRandomSource"/>. Large float
/// requests run in parallel, each chunk of 65,536 values from its own fork of the source.
/// </summary>
/// <remarks>
/// Float output (<see cref="AddTo"/>, <see cref="Fill(Span{float}, double)"/>) uses a single-precision 8-lane kernel: two
/// 32-bit words per pair, with the far tail refined in double so the radius stays continuous to about 10σ.
/// Double output (<see cref="Fill(Span{double}, double)"/>) uses a 53-bit uniform for the radius and a 32-bit angle in
/// double precision (tails to 8.5σ) and runs on one thread. Like every floating-point sampler
/// it is not immune to the attacks on floating-point noise (Mironov, CCS 2012); integer pipelines (secure aggregation with
/// distributed DP) should use <see cref="DiscreteGaussian"/>, which is exact. With a seeded source the output is
/// reproducible for a given source state and request length.
/// </remarks>
public sealed class GaussianNoise : IGaussianNoise
{
    // Pairs per block: 4096 pairs keep the working arrays (radius, angle, sin, cos) in L2.
    private const int BlockPairs = 4096;
    private const int ParallelThreshold = 1 << 16;
    private const int ParallelChunk = 1 << 16;
    private const double MaxFloatStandardDeviation = 1e18;
    private const double TwoPiOver2To32 = 2 * Math.PI / 4294967296.0;
    private const double TwoTo53 = 9007199254740992.0;

    private readonly IRandomSource _source;

    /// <summary>Draws from <paramref name="source"/>: <see cref="CryptoRandomSource.Instance"/> in production.</summary>
    public GaussianNoise(IRandomSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        _source = source;
    }

    /// <summary>A sampler over the OS CSPRNG.</summary>
    public static GaussianNoise Crypto { get; } = new(CryptoRandomSource.Instance);

    /// <inheritdoc/>
    public void AddTo(Span<float> values, double standardDeviation) => Run(values, standardDeviation, add: true);

    /// <summary>Fills <paramref name="destination"/> with N(0, σ²) samples rounded to float.</summary>
    public void Fill(Span<float> destination, double standardDeviation) => Run(destination, standardDeviation, add: false);

    /// <inheritdoc/>
    public void Fill(Span<double> destination, double standardDeviation)
    {
        CheckStandardDeviation(standardDeviation);
        if (destination.Length <= 16)
        {
            // Scalar Box–Muller for a handful of samples (count noise, local DP), with the same bit budget as the blocks.
            for (int i = 0; i < destination.Length; i += 2)
            {
                double radius = standardDeviation * Math.Sqrt(-2 * Math.Log(((_source.NextUInt64() >> 11) + 1) * (1.0 / TwoTo53)));
                double angle = (_source.NextUInt64() >> 32) * TwoPiOver2To32;
                destination[i] = radius * Math.Cos(angle);
                if (i + 1 < destination.Length)
                {
                    destination[i + 1] = radius * Math.Sin(angle);
                }
            }

            return;
        }

        var work = new Workspace();
        int offset = 0;
        while (offset < destination.Length)
        {
            int n = Math.Min(2 * BlockPairs, destination.Length - offset);
            work.Generate(_source, n, standardDeviation);
            work.Samples.AsSpan(0, n).CopyTo(destination.Slice(offset, n));
            offset += n;
        }
    }

    private void Run(Span<float> values, double sd, bool add)
    {
        CheckStandardDeviation(sd);
        if (sd > MaxFloatStandardDeviation)
        {
            // The float kernel squares σ in single precision.
            throw new ArgumentOutOfRangeException(nameof(sd), sd, $"Float noise supports a standard deviation up to {MaxFloatStandardDeviation:G}.");
        }

        if (values.Length < ParallelThreshold)
        {
            BoxMullerFloatKernel.Run(_source, values, (float)sd, add, new uint[BoxMullerFloatKernel.BlockSamples]);
            return;
        }

        // Fork per chunk from a fresh draw, so that two calls on a seeded source do not repeat each other's noise,
        // and the output depends only on the source state and the length, not on the thread schedule.
        ulong streamBase = _source.NextUInt64();
        int chunks = (values.Length + ParallelChunk - 1) / ParallelChunk;
        unsafe
        {
            fixed (float* p = values)
            {
                nint ptr = (nint)p;
                int length = values.Length;
                Parallel.For(0, chunks, () => new uint[BoxMullerFloatKernel.BlockSamples], (c, _, words) =>
                {
                    IRandomSource source;
                    unchecked
                    {
                        source = _source.Fork(streamBase + (ulong)c);
                    }

                    int start = c * ParallelChunk;
                    var span = new Span<float>((float*)ptr + start, Math.Min(ParallelChunk, length - start));
                    BoxMullerFloatKernel.Run(source, span, (float)sd, add, words);
                    return words;
                }, _ => { });
            }
        }
    }

    private static void CheckStandardDeviation(double sd)
    {
        if (!(sd >= 0) || double.IsPositiveInfinity(sd))
        {
            throw new ArgumentOutOfRangeException(nameof(sd), sd, "The noise standard deviation must be a finite number ≥ 0.");
        }
    }

    /// <summary>Per-thread scratch arrays for one block.</summary>
    private sealed class Workspace
    {
        private readonly byte[] _bytes = new byte[BlockPairs * 12];
        private readonly double[] _radius = new double[BlockPairs];
        private readonly double[] _angle = new double[BlockPairs];
        private readonly double[] _sin = new double[BlockPairs];
        private readonly double[] _cos = new double[BlockPairs];

        public double[] Samples { get; } = new double[2 * BlockPairs];

        /// <summary>Generates <paramref name="count"/> samples (count ≤ 2·BlockPairs) into <see cref="Samples"/>.</summary>
        public void Generate(IRandomSource source, int count, double sd)
        {
            int pairs = (count + 1) / 2;
            var bytes = _bytes.AsSpan(0, pairs * 12);
            source.NextBytes(bytes);
            var u64 = MemoryMarshal.Cast<byte, ulong>(bytes[..(pairs * 8)]);
            var u32 = MemoryMarshal.Cast<byte, uint>(bytes[(pairs * 8)..]);
            var radius = _radius.AsSpan(0, pairs);
            var angle = _angle.AsSpan(0, pairs);
            for (int i = 0; i < pairs; i++)
            {
                // u₁ ∈ (0, 1] so that the logarithm is finite.
                radius[i] = ((u64[i] >> 11) + 1) * (1.0 / TwoTo53);
                angle[i] = u32[i] * TwoPiOver2To32;
            }

            TensorPrimitives.Log(radius, radius);
            TensorPrimitives.Multiply(radius, -2.0 * sd * sd, radius);
            TensorPrimitives.Sqrt(radius, radius);
            var sin = _sin.AsSpan(0, pairs);
            var cos = _cos.AsSpan(0, pairs);
            TensorPrimitives.SinCos(angle, sin, cos);
            var samples = Samples.AsSpan(0, 2 * pairs);
            for (int i = 0; i < pairs; i++)
            {
                samples[2 * i] = radius[i] * cos[i];
                samples[(2 * i) + 1] = radius[i] * sin[i];
            }
        }
    }
}
