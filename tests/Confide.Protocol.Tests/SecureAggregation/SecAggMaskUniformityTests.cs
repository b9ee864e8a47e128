using Confide.Protocol.SecureAggregation;
using Confide.Randomness;
using Confide.SecureAggregation;

namespace Confide.Protocol.Tests.SecureAggregation;

public sealed class SecAggMaskUniformityTests
{
    // 256 byte values, 255 degrees of freedom: mean 255, standard deviation √510 ≈ 22.6. Six standard deviations above
    // the mean (≈ 390) is exceeded by a uniform source with probability far below 1e-6, and the test is seeded anyway.
    private const double ChiSquareLimit = 255 + (6 * 22.6);

    [Fact]
    public void AMaskedVectorOfAStructuredInputHasUniformBytes()
    {
        const int D = 8192;
        var options = new SecAggOptions(clientCount: 4, threshold: 2, dimension: D, modulusBits: 32);
        var random = new SeededRandomSource(99);
        var keys = Enumerable.Range(0, 4).Select(_ => IdentityKeyPair.Generate(random)).ToArray();
        var session = new SecAggSession("uniformity", 1, options, keys.Select(k => k.PublicKey).ToArray(), new byte[32]);

        // A very non-uniform input: a ramp of small values.
        ulong[] input = Enumerable.Range(0, D).Select(i => (ulong)(i % 7)).ToArray();
        var clients = Enumerable.Range(0, 4).Select(u => new SecAggClient(session, u, keys[u], input, random.Fork((ulong)u))).ToArray();
        var server = new SecAggServer(session, random.Fork(77));
        foreach (var c in clients)
        {
            server.Receive(c.AdvertiseKeys());
        }

        var broadcasts = server.CloseStage();
        foreach (var m in broadcasts)
        {
            server.Receive(clients[m.Recipient].Handle(m));
        }

        var deliveries = server.CloseStage();
        var y = clients[0].MaskInput((SharesDeliveryMessage)deliveries.First(m => m.Recipient == 0)).MaskedInput;

        Assert.True(ChiSquare(Bytes(y)) < ChiSquareLimit, $"chi-square {ChiSquare(Bytes(y)):F1}");

        // The same statistic flags the unmasked input, so it can fail.
        Assert.True(ChiSquare(Bytes(input)) > 10 * ChiSquareLimit);
        foreach (var c in clients)
        {
            c.Dispose();
        }

        foreach (var k in keys)
        {
            k.Dispose();
        }
    }

    private static byte[] Bytes(ulong[] values) => values.SelectMany(v => BitConverter.GetBytes((uint)v)).ToArray();

    private static double ChiSquare(byte[] bytes)
    {
        var counts = new int[256];
        foreach (byte b in bytes)
        {
            counts[b]++;
        }

        double expected = bytes.Length / 256.0;
        return counts.Sum(c => (c - expected) * (c - expected) / expected);
    }
}
