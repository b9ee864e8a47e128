using Confide.Protocol.SecureAggregation;
using Confide.Randomness;
using Confide.SecureAggregation;

namespace Confide.Protocol.Tests.SecureAggregation;

/// <summary>Each attack or fault of issue 4 gets a typed error, and the state afterwards is consistent.</summary>
public sealed class SecAggHostileTests
{
    private static SecAggOptions Options => new(clientCount: 5, threshold: 3, dimension: 8);

    [Fact]
    public void ServerRefusesAnEarlyMessageAndCarriesOnUnchanged()
    {
        using var h = new SecAggHarness(Options, seed: 10);
        var early = new MaskedInputMessage(h.Session.SessionId, h.Session.Round, 0, new ulong[8]);
        var ex = Assert.Throws<SecAggOutOfOrderException>(() => h.Server.Receive(early));
        Assert.Equal(SecAggStage.AdvertiseKeys, ex.Stage);
        Assert.Contains("early", ex.Message, StringComparison.Ordinal);
        Assert.Equal(SecAggStage.AdvertiseKeys, h.Server.Stage);
        Assert.Equal(0, h.Server.ReceivedInCurrentStage);

        h.RunUntil(SecAggStage.Completed);
        Assert.Equal(SecAggSimulation.PlainSum(h.Inputs, Enumerable.Range(0, 5), 32), h.Server.Result.Sum);
    }

    [Fact]
    public void ServerRefusesALateMessageAfterTheStageClosed()
    {
        using var h = new SecAggHarness(Options, seed: 11);
        var inbox = h.Step(null, u => u != 4);
        AdvertiseKeysMessage late = h.Clients[4].AdvertiseKeys();
        var ex = Assert.Throws<SecAggOutOfOrderException>(() => h.Server.Receive(late));
        Assert.Contains("late", ex.Message, StringComparison.Ordinal);
        Assert.Equal(SecAggStage.ShareKeys, h.Server.Stage);
        Assert.Equal(4, inbox.Count);
    }

    [Fact]
    public void ClientRefusesAMessageForAnotherStageAndStaysUsable()
    {
        using var h = new SecAggHarness(Options, seed: 12);
        var inbox = h.Step(null);
        var premature = new SurvivorListMessage(h.Session.SessionId, h.Session.Round, 0, [0, 1, 2, 3, 4]);
        Assert.Throws<SecAggOutOfOrderException>(() => h.Clients[0].Handle(premature));
        Assert.Equal(SecAggStage.ShareKeys, h.Clients[0].Stage);

        h.Step(inbox);
        Assert.Equal(SecAggStage.MaskedInputCollection, h.Clients[0].Stage);
        // The same broadcast again is now late.
        Assert.Throws<SecAggOutOfOrderException>(() => h.Clients[0].Handle(inbox[0]));
        Assert.Equal(SecAggStage.MaskedInputCollection, h.Clients[0].Stage);
    }

    [Fact]
    public void ServerRejectsADuplicateMessageFromTheSameClient()
    {
        using var h = new SecAggHarness(Options, seed: 13);
        AdvertiseKeysMessage keys = h.Clients[2].AdvertiseKeys();
        h.Server.Receive(keys);
        var ex = Assert.Throws<SecAggReplayException>(() => h.Server.Receive(keys));
        Assert.Equal(2, ex.Sender);
        Assert.Equal(1, h.Server.ReceivedInCurrentStage);
    }

    [Fact]
    public void MessagesFromAnotherSessionOrRoundAreReplays()
    {
        using var other = new SecAggHarness(Options, seed: 14, sessionId: "other-session");
        using var h = new SecAggHarness(Options, seed: 14);
        AdvertiseKeysMessage foreign = other.Clients[1].AdvertiseKeys();
        Assert.Throws<SecAggReplayException>(() => h.Server.Receive(foreign));
        Assert.Throws<SecAggReplayException>(() => h.Server.Receive(h.Clients[1].AdvertiseKeys() with { Round = 6 }));
        Assert.Equal(0, h.Server.ReceivedInCurrentStage);
    }

    [Fact]
    public void ServerRejectsUnsignedAndBadlySignedKeys()
    {
        using var h = new SecAggHarness(Options, seed: 15);
        AdvertiseKeysMessage keys = h.Clients[0].AdvertiseKeys();
        byte[] flipped = (byte[])keys.Signature.Clone();
        flipped[5] ^= 1;
        Assert.Throws<SecAggSignatureException>(() => h.Server.Receive(keys with { Signature = flipped }));
        Assert.Throws<SecAggSignatureException>(() => h.Server.Receive(keys with { Signature = [] }));

        // Client 1 signing client 0's keys is not client 0 signing them.
        byte[] swapped = (byte[])keys.MaskPublicKey.Clone();
        swapped[0] ^= 0x40;
        Assert.Throws<SecAggSignatureException>(() => h.Server.Receive(keys with { MaskPublicKey = swapped }));
        Assert.Equal(0, h.Server.ReceivedInCurrentStage);
        h.Server.Receive(keys);
        Assert.Equal(1, h.Server.ReceivedInCurrentStage);
    }

    [Fact]
    public void ClientAbortsWhenTheServerSubstitutesAPeersKey()
    {
        using var h = new SecAggHarness(Options, seed: 16);
        var inbox = h.Step(null);
        var broadcast = (KeysBroadcastMessage)inbox[0];
        // A man-in-the-middle server replaces peer 1's mask key with one of its own.
        using var attacker = AgreementKeyPair.Generate(new SeededRandomSource(666));
        var forged = broadcast.Keys.Select(k => k.Sender == 1 ? k with { MaskPublicKey = attacker.PublicKey.ToBytes() } : k).ToArray();
        var ex = Assert.Throws<SecAggSignatureException>(() => h.Clients[0].Handle(broadcast with { Keys = forged }));
        Assert.Equal(1, ex.Signer);
        Assert.Equal(SecAggStage.Aborted, h.Clients[0].Stage);
        Assert.Same(ex, h.Clients[0].AbortReason);
        Assert.Throws<SecAggOutOfOrderException>(() => h.Clients[0].Handle(broadcast));
    }

    [Fact]
    public void ClientAbortsOnATamperedShareCiphertext()
    {
        using var h = new SecAggHarness(Options, seed: 17);
        var inbox = h.RunUntil(SecAggStage.MaskedInputCollection);
        var delivery = (SharesDeliveryMessage)inbox[3];
        EncryptedShare first = delivery.Shares[0];
        byte[] tampered = (byte[])first.Ciphertext.Clone();
        tampered[tampered.Length / 2] ^= 0x01;
        var shares = delivery.Shares.Select(s => s == first ? s with { Ciphertext = tampered } : s).ToArray();
        var ex = Assert.Throws<SecAggShareDecryptionException>(() => h.Clients[3].Handle(delivery with { Shares = shares }));
        Assert.Equal(first.Sender, ex.Sender);
        Assert.Equal(SecAggStage.Aborted, h.Clients[3].Stage);
    }

    [Fact]
    public void ClientRejectsASharesAddressedToAnotherClient()
    {
        using var h = new SecAggHarness(Options, seed: 18);
        var inbox = h.RunUntil(SecAggStage.MaskedInputCollection);
        var toOne = (SharesDeliveryMessage)inbox[1];
        var toTwo = (SharesDeliveryMessage)inbox[2];

        // Forwarded as is: the share still names its real receiver.
        EncryptedShare stolen = toOne.Shares.First(s => s.Sender != 2);
        var misrouted = toTwo.Shares.Where(s => s.Sender != stolen.Sender).Append(stolen).ToArray();
        var wrong = Assert.Throws<SecAggWrongRecipientException>(() => h.Clients[2].Handle(toTwo with { Shares = misrouted }));
        Assert.Equal(1, wrong.Actual);
        Assert.Equal(SecAggStage.Aborted, h.Clients[2].Stage);

        // Relabelled to the new receiver: the AEAD binding to the receiver id catches it.
        var relabelled = toOne.Shares.Select(s => s with { Receiver = 3 }).Where(s => s.Sender != 3).ToArray();
        var forThree = (SharesDeliveryMessage)inbox[3];
        var mixed = forThree.Shares.Where(s => s.Sender != relabelled[0].Sender).Append(relabelled[0]).ToArray();
        Assert.Throws<SecAggShareDecryptionException>(() => h.Clients[3].Handle(forThree with { Shares = mixed }));

        // A whole message for another client is refused without harm.
        Assert.Throws<SecAggWrongRecipientException>(() => h.Clients[4].Handle(toOne));
        Assert.Equal(SecAggStage.MaskedInputCollection, h.Clients[4].Stage);
    }

    [Fact]
    public void ClientsDetectDifferentSurvivorListsShownToDifferentClients()
    {
        var options = new SecAggOptions(clientCount: 6, threshold: 2, dimension: 4, signatureQuorum: 2);
        using var h = new SecAggHarness(options, seed: 19);
        var inbox = h.RunUntil(SecAggStage.ConsistencyCheck);

        // The server tells clients 0–2 that client 5 survived and clients 3–4 that it dropped, hoping to collect
        // b-shares of 5 from the first group and mask-key shares of 5 from the second.
        int[] withFive = [0, 1, 2, 3, 4, 5];
        int[] withoutFive = [0, 1, 2, 3, 4];
        var signatures = new List<ConsistencySignatureMessage>();
        for (int u = 0; u < 5; u++)
        {
            int[] shown = u < 3 ? withFive : withoutFive;
            signatures.Add(h.Clients[u].SignSurvivors(new SurvivorListMessage(h.Session.SessionId, h.Session.Round, u, shown)));
        }

        var request = new UnmaskingRequestMessage(h.Session.SessionId, h.Session.Round, 0, withFive, [], signatures);
        var ex = Assert.Throws<SecAggInconsistentSurvivorsException>(() => h.Clients[0].Unmask(request));
        Assert.Contains("different lists", ex.Message, StringComparison.Ordinal);
        Assert.Equal(SecAggStage.Aborted, h.Clients[0].Stage);

        // Only the honest subset of signatures: accepted, since all of them signed the same list.
        var consistent = new UnmaskingRequestMessage(h.Session.SessionId, h.Session.Round, 3, withoutFive, [5], signatures.Skip(3).ToArray());
        UnmaskingResponseMessage response = h.Clients[3].Unmask(consistent);
        Assert.Contains(response.MaskKeyShares, s => s.Owner == 5);
        Assert.DoesNotContain(response.SelfMaskShares, s => s.Owner == 5);
    }

    [Fact]
    public void ClientAbortsWhenTheRequestListsOtherSurvivorsThanItSigned()
    {
        using var h = new SecAggHarness(Options, seed: 20);
        var inbox = h.RunUntil(SecAggStage.Unmasking);
        var request = (UnmaskingRequestMessage)inbox[0];
        var ex = Assert.Throws<SecAggInconsistentSurvivorsException>(() => h.Clients[0].Handle(request with { Survivors = [0, 1, 2, 3] }));
        Assert.Equal(SecAggStage.Aborted, h.Clients[0].Stage);
        Assert.NotNull(ex.Message);
    }

    [Fact]
    public void ClientRefusesToRevealBothSharesOfOnePeer()
    {
        using var h = new SecAggHarness(Options, seed: 21);
        var inbox = h.RunUntil(SecAggStage.Unmasking);
        var request = (UnmaskingRequestMessage)inbox[0];
        Assert.Empty(request.Dropped);

        // Peer 2 is a survivor (the client would reveal its b-share); the server also asks for its mask-key share.
        var ex = Assert.Throws<SecAggBothSharesRequestedException>(() => h.Clients[0].Handle(request with { Dropped = [2] }));
        Assert.Equal(2, ex.Peer);
        Assert.Equal(SecAggStage.Aborted, h.Clients[0].Stage);
        Assert.Throws<SecAggOutOfOrderException>(() => h.Clients[0].Handle(request));
    }

    [Fact]
    public void ClientDemandsTheSignatureQuorum()
    {
        using var h = new SecAggHarness(Options, seed: 22);
        var inbox = h.RunUntil(SecAggStage.Unmasking);
        var request = (UnmaskingRequestMessage)inbox[1];
        var ex = Assert.Throws<SecAggInsufficientSurvivorsException>(() => h.Clients[1].Handle(request with { Signatures = request.Signatures.Take(2).ToArray() }));
        Assert.Equal(3, ex.Required);
        Assert.Equal(2, ex.Available);
    }

    [Fact]
    public void ServerRejectsASignatureOverAnotherList()
    {
        using var h = new SecAggHarness(Options, seed: 23);
        var inbox = h.RunUntil(SecAggStage.ConsistencyCheck);
        var list = (SurvivorListMessage)inbox[0];
        ConsistencySignatureMessage sig = h.Clients[0].SignSurvivors(list with { Survivors = [0, 1, 2] });
        Assert.Throws<SecAggSignatureException>(() => h.Server.Receive(sig));
        Assert.Equal(0, h.Server.ReceivedInCurrentStage);
    }

    [Fact]
    public void ServerAbortsNamingTheStageAndTheCountsWhenTooFewSurvive()
    {
        using var h = new SecAggHarness(Options, seed: 24);
        var inbox = h.Step(null);
        inbox = h.Step(inbox);
        var ex = Assert.Throws<SecAggInsufficientSurvivorsException>(() => h.Step(inbox, u => u < 2));
        Assert.Equal(SecAggStage.MaskedInputCollection, ex.Stage);
        Assert.Equal(2, ex.Available);
        Assert.Equal(3, ex.Required);
        Assert.Contains("MaskedInputCollection", ex.Message, StringComparison.Ordinal);
        Assert.Equal(SecAggStage.Aborted, h.Server.Stage);
        Assert.Throws<SecAggOutOfOrderException>(() => h.Server.CloseStage());
        Assert.Throws<InvalidOperationException>(() => h.Server.Result);
    }

    [Fact]
    public void ServerRejectsMalformedMaskedInputs()
    {
        var options = new SecAggOptions(clientCount: 5, threshold: 3, dimension: 8, modulusBits: 16);
        using var h = new SecAggHarness(options, seed: 25);
        var inbox = h.RunUntil(SecAggStage.MaskedInputCollection);
        MaskedInputMessage y = h.Clients[0].MaskInput((SharesDeliveryMessage)inbox[0]);
        Assert.Throws<SecAggInvalidMessageException>(() => h.Server.Receive(y with { MaskedInput = new ulong[7] }));
        ulong[] big = (ulong[])y.MaskedInput.Clone();
        big[3] = 1UL << 16;
        Assert.Throws<SecAggInvalidMessageException>(() => h.Server.Receive(y with { MaskedInput = big }));
        Assert.Throws<SecAggInvalidMessageException>(() => h.Server.Receive(y with { Sender = 9 }));
        h.Server.Receive(y);
        Assert.Equal(1, h.Server.ReceivedInCurrentStage);
    }

    [Fact]
    public void ServerRejectsAnUnmaskingResponseRevealingBothSharesOfAPeer()
    {
        using var h = new SecAggHarness(Options, seed: 26);
        var inbox = h.RunUntil(SecAggStage.Unmasking);
        UnmaskingResponseMessage r = h.Clients[0].Unmask((UnmaskingRequestMessage)inbox[0]);
        RevealedShare b = r.SelfMaskShares[0];
        Assert.Throws<SecAggInvalidMessageException>(() => h.Server.Receive(r with { MaskKeyShares = [b] }));
        Assert.Throws<SecAggInvalidMessageException>(() => h.Server.Receive(r with { SelfMaskShares = r.SelfMaskShares.Append(b).ToArray() }));
        h.Server.Receive(r);
    }

    [Fact]
    public void ServerAbortsWhenARevealedShareIsCorrupt()
    {
        using var h = new SecAggHarness(Options, seed: 27);
        var inbox = h.RunUntil(SecAggStage.Unmasking);
        for (int u = 0; u < 5; u++)
        {
            UnmaskingResponseMessage r = h.Clients[u].Unmask((UnmaskingRequestMessage)inbox[u]);
            if (u == 0)
            {
                // Client 0 holds one of the lowest-id shares of client 1's seed, which reconstruction uses.
                byte[] bad = (byte[])r.SelfMaskShares.First(s => s.Owner == 1).Share.Clone();
                bad[^1] ^= 0x10;
                r = r with { SelfMaskShares = r.SelfMaskShares.Select(s => s.Owner == 1 ? s with { Share = bad } : s).ToArray() };
            }

            h.Server.Receive(r);
        }

        var ex = Assert.Throws<SecAggInvalidMessageException>(() => h.Server.CloseStage());
        Assert.Contains("client 1", ex.Message, StringComparison.Ordinal);
        Assert.Equal(SecAggStage.Aborted, h.Server.Stage);
    }
}
