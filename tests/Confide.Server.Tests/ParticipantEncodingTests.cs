using System.Buffers;
using Confide.Client;
using Confide.Parameters;
using Confide.Privacy;
using Confide.Randomness;

namespace Confide.Server.Tests;

/// <summary>The participant computes trained − global straight into the encoded payload; it must equal the plain way.</summary>
public sealed class ParticipantEncodingTests
{
    private static readonly ParameterLayout Layout = ParameterLayout.Create(("w", [3, 5]), ("b", [5]), ("empty", [0]), ("s", []));

    [Fact]
    public void The_in_place_delta_encoding_equals_writing_the_subtracted_model()
    {
        IRandomSource random = new SeededRandomSource(5);
        for (int trial = 0; trial < 100; trial++)
        {
            var trained = new ModelParameters(Layout, Draw(random));
            var global = new ModelParameters(Layout, Draw(random));
            double clip = trial % 3 == 0 ? 0 : 50 * random.NextDouble() + 0.01;
            var expected = trained.Clone();
            System.Numerics.Tensors.TensorPrimitives.Subtract(expected.AsSpan(), global.AsSpan(), expected.AsSpan());
            if (clip > 0)
            {
                L2Clipping.Clip(expected.AsSpan(), clip);
            }

            var (buffer, length) = FederatedParticipant.EncodeDelta(trained, global, clip, out _);
            try
            {
                Assert.Equal(Safetensors.Write(expected), buffer.AsSpan(0, length).ToArray());
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer, clearArray: true);
            }
        }
    }

    private static float[] Draw(IRandomSource random)
    {
        var values = new float[Layout.TotalLength];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = (float)((random.NextDouble() - 0.5) * 200);
        }

        return values;
    }

    [Fact]
    public void A_trained_model_of_another_layout_is_refused()
    {
        var global = ModelParameters.Zeros(Layout);
        var other = ModelParameters.Zeros(ParameterLayout.Create(("w", [20])));
        var ex = Assert.Throws<InvalidOperationException>(() => FederatedParticipant.EncodeDelta(other, global, 0, out _));
        Assert.Contains("layout", ex.Message, StringComparison.Ordinal);
    }
}
