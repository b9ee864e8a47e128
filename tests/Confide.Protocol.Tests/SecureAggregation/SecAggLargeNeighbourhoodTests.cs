using Confide.Protocol.SecureAggregation;
using Confide.Protocol.SecureAggregation.Internal;
using Confide.Randomness;
using Confide.SecureAggregation;

namespace Confide.Protocol.Tests.SecureAggregation;

/// <summary>
/// Neighbourhoods large enough that a client spreads its per-peer work over the cores
/// (<see cref="SecAggParallel.MinimumPeers"/>): results stay exact and reproducible, and every check still fires, with
/// the first failure in message order reported.
/// </summary>
public sealed class SecAggLargeNeighbourhoodTests
{
    private const int N = 24;

    // A quorum of 18: the unmasking request carries 18 signatures, enough for the parallel path.
    private static SecAggOptions Options(int bits = 32) => new(clientCount: N, threshold: 9, dimension: 40, modulusBits: bits, signatureQuorum: 18);

    [Fact]
    public void TheNeighbourhoodIsLargeEnoughToRunInParallel() => Assert.True(N - 1 >= SecAggParallel.MinimumPeers);

    [Theory]
    [InlineData(32)]
    [InlineData(13)]
    [InlineData(62)]
    public void RoundsRecoverTheExactSumWithDropoutsWhetherClientsRunTogetherOrAlone(int bits)
    {
        SecAggOptions options = Options(bits);
        var inputRandom = new SeededRandomSource(40 + (ulong)bits);
        var inputs = Enumerable.Range(0, N).Select(_ => Enumerable.Range(0, options.Dimension).Select(_ => inputRandom.NextUInt64() & options.ModulusMask).ToArray()).ToArray();
        var dropouts = SecAggDropouts.Fraction(N, 0.25, SecAggStage.MaskedInputCollection, new SeededRandomSource(7));

        SecAggSimulationResult together = SecAggSimulation.Run(inputs, options, dropouts, new SeededRandomSource(8));
        SecAggSimulationResult alone = SecAggSimulation.Run(inputs, options, dropouts, new SeededRandomSource(8), clientsOneAtATime: true);
        Assert.True(together.Completed, together.Error?.Message);
        Assert.True(alone.Completed, alone.Error?.Message);
        Assert.Equal(N - 6, together.Result!.Survivors.Count);
        Assert.Equal(SecAggSimulation.PlainSum(inputs, together.Result.Survivors, bits), together.Result.Sum);
        Assert.Equal(together.Result.Survivors, alone.Result!.Survivors);
        Assert.Equal(together.Result.Sum, alone.Result.Sum);
        Assert.True(alone.ClientsOneAtATime);
        Assert.Equal(5, alone.ClientCpuMillisecondsByStage.Count);
    }

    [Fact]
    public void ASeededClientSendsTheSameBytesWhateverTheSchedule()
    {
        // Two runs of the same seeded round: the ciphertexts (nonces from per-receiver forks) and the masked input agree.
        (ShareKeysMessage Shares, MaskedInputMessage Masked) Run()
        {
            using var h = new SecAggHarness(Options(), seed: 50);
            var inbox = h.Step(null);
            var replies = new ShareKeysMessage[N];
            for (int u = 0; u < N; u++)
            {
                replies[u] = h.Clients[u].ShareKeys((KeysBroadcastMessage)inbox[u]);
                h.Server.Receive(replies[u]);
            }

            var deliveries = h.Server.CloseStage().ToDictionary(m => m.Recipient);
            return (replies[5], h.Clients[5].MaskInput((SharesDeliveryMessage)deliveries[5]));
        }

        var first = Run();
        var second = Run();
        Assert.Equal(N - 1, first.Shares.Shares.Count);
        Assert.Equal(Enumerable.Range(0, N).Where(v => v != 5), first.Shares.Shares.Select(s => s.Receiver));
        for (int i = 0; i < first.Shares.Shares.Count; i++)
        {
            Assert.Equal(first.Shares.Shares[i].Ciphertext, second.Shares.Shares[i].Ciphertext);
        }

        Assert.Equal(first.Masked.MaskedInput, second.Masked.MaskedInput);
        // Distinct nonces: no two shares of one client start alike.
        Assert.Equal(N - 1, first.Shares.Shares.Select(s => Convert.ToHexString(s.Ciphertext.AsSpan(0, ShareEncryption.NonceSize))).Distinct().Count());
    }

    [Fact]
    public void ABadSignatureDeepInTheKeyBroadcastAborts()
    {
        using var h = new SecAggHarness(Options(), seed: 51);
        var broadcast = (KeysBroadcastMessage)h.Step(null)[0];
        AdvertiseKeysMessage victim = broadcast.Keys[17];
        byte[] flipped = (byte[])victim.Signature.Clone();
        flipped[10] ^= 0x04;
        var keys = broadcast.Keys.Select((k, i) => i == 17 ? k with { Signature = flipped } : k).ToArray();
        var ex = Assert.Throws<SecAggSignatureException>(() => h.Clients[0].Handle(broadcast with { Keys = keys }));
        Assert.Equal(victim.Sender, ex.Signer);
        Assert.Contains("does not verify", ex.Message, StringComparison.Ordinal);
        Assert.Equal(SecAggStage.Aborted, h.Clients[0].Stage);
    }

    [Theory]
    [InlineData(20, typeof(SecAggSignatureException))]
    [InlineData(5, typeof(SecAggInvalidMessageException))]
    public void TheFirstFailureInMessageOrderIsReported(int duplicateAt, Type expected)
    {
        // A bad signature at entry 12 and a duplicate of entry 3 at another entry: whichever comes first is reported.
        using var h = new SecAggHarness(Options(), seed: 52);
        var broadcast = (KeysBroadcastMessage)h.Step(null)[1];
        byte[] flipped = (byte[])broadcast.Keys[12].Signature.Clone();
        flipped[0] ^= 0x01;
        var keys = broadcast.Keys.Select((k, i) => i == 12 ? k with { Signature = flipped } : i == duplicateAt ? broadcast.Keys[3] : k).ToArray();
        var ex = Assert.ThrowsAny<SecAggProtocolException>(() => h.Clients[1].Handle(broadcast with { Keys = keys }));
        Assert.IsType(expected, ex);
        Assert.Same(ex, h.Clients[1].AbortReason);
    }

    [Fact]
    public void ASignedLowOrderKeyIsRejectedAsAnInvalidKey()
    {
        using var h = new SecAggHarness(Options(), seed: 53);
        var broadcast = (KeysBroadcastMessage)h.Step(null)[0];
        // Client 9 (dishonest) signs an all-zero X25519 key, whose shared secret with anyone is all zeros.
        AdvertiseKeysMessage honest = broadcast.Keys.First(k => k.Sender == 9);
        byte[] lowOrder = new byte[AgreementPublicKey.Size];
        byte[] signature = h.Identities[9].Sign(SecAggBinding.AdvertisePurpose, h.Session.Binding.AdvertisePayload(9, lowOrder, honest.MaskPublicKey));
        var keys = broadcast.Keys.Select(k => k.Sender == 9 ? k with { CipherPublicKey = lowOrder, Signature = signature } : k).ToArray();
        var ex = Assert.Throws<SecAggSignatureException>(() => h.Clients[0].Handle(broadcast with { Keys = keys }));
        Assert.Equal(9, ex.Signer);
        Assert.Contains("low-order", ex.Message, StringComparison.Ordinal);
        Assert.Equal(SecAggStage.Aborted, h.Clients[0].Stage);
    }

    [Fact]
    public void TheServerRefusesASignedLowOrderKeyAtAdvertiseKeysAndTheRoundGoesOnWithoutThatClient()
    {
        using var h = new SecAggHarness(Options(), seed: 55);
        AdvertiseKeysMessage honest = h.Clients[9].AdvertiseKeys();
        byte[] lowOrder = new byte[AgreementPublicKey.Size];
        byte[] signature = h.Identities[9].Sign(SecAggBinding.AdvertisePurpose, h.Session.Binding.AdvertisePayload(9, lowOrder, honest.MaskPublicKey));
        var ex = Assert.Throws<SecAggInvalidMessageException>(() => h.Server.Receive(honest with { CipherPublicKey = lowOrder, Signature = signature }));
        Assert.Contains("Client 9", ex.Message, StringComparison.Ordinal);
        Assert.Contains("small order", ex.Message, StringComparison.Ordinal);
        Assert.Equal(0, h.Server.ReceivedInCurrentStage);

        // Client 9 is simply not in the round; every other client completes it and the sum is theirs.
        var survivors = Enumerable.Range(0, h.Options.ClientCount).Where(u => u != 9).ToArray();
        var inbox = h.Step(null, u => u != 9);
        for (var stage = SecAggStage.ShareKeys; stage <= SecAggStage.Unmasking; stage++)
        {
            Assert.False(inbox.ContainsKey(9));
            inbox = h.Step(inbox);
        }

        Assert.Equal(SecAggStage.Completed, h.Server.Stage);
        Assert.Equal(SecAggSimulation.PlainSum(h.Inputs, survivors, h.Options.ModulusBits), h.Server.Result.Sum);
    }

    [Fact]
    public void ATamperedShareDeepInTheDeliveryAbortsNamingItsSender()
    {
        using var h = new SecAggHarness(Options(), seed: 54);
        var inbox = h.RunUntil(SecAggStage.MaskedInputCollection);
        var delivery = (SharesDeliveryMessage)inbox[4];
        EncryptedShare target = delivery.Shares[15];
        byte[] tampered = (byte[])target.Ciphertext.Clone();
        tampered[^3] ^= 0x20;

        // Tampered entry 15 before a duplicate at entry 19: the decryption failure is reported.
        var shares = delivery.Shares.Select((s, i) => i == 15 ? s with { Ciphertext = tampered } : i == 19 ? delivery.Shares[2] : s).ToArray();
        var ex = Assert.Throws<SecAggShareDecryptionException>(() => h.Clients[4].Handle(delivery with { Shares = shares }));
        Assert.Equal(target.Sender, ex.Sender);
        Assert.Equal(SecAggStage.Aborted, h.Clients[4].Stage);

        // For another client, a duplicate at entry 3 comes before a tampered entry 15: the duplicate is reported.
        var other = (SharesDeliveryMessage)inbox[6];
        byte[] tampered6 = (byte[])other.Shares[15].Ciphertext.Clone();
        tampered6[0] ^= 0x01;
        var shares6 = other.Shares.Select((s, i) => i == 15 ? s with { Ciphertext = tampered6 } : i == 3 ? other.Shares[1] : s).ToArray();
        var dup = Assert.Throws<SecAggInvalidMessageException>(() => h.Clients[6].Handle(other with { Shares = shares6 }));
        Assert.Contains("two shares", dup.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ABadSurvivorSignatureDeepInTheRequestAborts()
    {
        using var h = new SecAggHarness(Options(), seed: 55);
        var inbox = h.RunUntil(SecAggStage.Unmasking);
        var request = (UnmaskingRequestMessage)inbox[7];
        Assert.True(request.Signatures.Count >= SecAggParallel.MinimumPeers);
        ConsistencySignatureMessage victim = request.Signatures[13];
        byte[] flipped = (byte[])victim.Signature.Clone();
        flipped[33] ^= 0x08;
        var signatures = request.Signatures.Select((s, i) => i == 13 ? s with { Signature = flipped } : s).ToArray();
        var ex = Assert.Throws<SecAggInconsistentSurvivorsException>(() => h.Clients[7].Handle(request with { Signatures = signatures }));
        Assert.Contains($"client {victim.Sender}", ex.Message, StringComparison.Ordinal);
        Assert.Equal(SecAggStage.Aborted, h.Clients[7].Stage);

        // The honest request is answered by another client, with one b-share per surviving neighbour and itself.
        UnmaskingResponseMessage response = h.Clients[8].Handle((UnmaskingRequestMessage)inbox[8]) as UnmaskingResponseMessage
            ?? throw new InvalidOperationException("expected an unmasking response");
        Assert.Equal(N, response.SelfMaskShares.Count);
        Assert.Empty(response.MaskKeyShares);
    }

    [Fact]
    public void TheUnmaskingRequestCarriesTheQuorumsWorthOfLowestIdSignatures()
    {
        using var h = new SecAggHarness(Options(), seed: 56);
        var inbox = h.RunUntil(SecAggStage.Unmasking);
        var request = (UnmaskingRequestMessage)inbox[0];
        Assert.Equal(N, request.Survivors.Count);
        Assert.Equal(Enumerable.Range(0, 18), request.Signatures.Select(s => s.Sender));

        // One fewer than the quorum is refused, as before.
        var ex = Assert.Throws<SecAggInsufficientSurvivorsException>(() => h.Clients[0].Handle(request with { Signatures = request.Signatures.Skip(1).ToArray() }));
        Assert.Equal(18, ex.Required);
        Assert.Equal(17, ex.Available);
    }
}
