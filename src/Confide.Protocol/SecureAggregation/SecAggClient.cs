using System.Security.Cryptography;
using Confide.Protocol.SecureAggregation.Internal;
using Confide.Randomness;
using Confide.SecureAggregation;

namespace Confide.Protocol.SecureAggregation;

/// <summary>
/// The client side of secure aggregation (Bonawitz et al. 2017, "Practical Secure Aggregation for Privacy-Preserving
/// Machine Learning", CCS, Figure 4, malicious-server variant), restricted to the client's SecAgg+ neighbours
/// (Bell et al. 2020). Sans-IO: each method consumes one server message and returns the client's reply; deadlines and
/// transport belong to the caller.
/// </summary>
/// <remarks>
/// <para>Stages run strictly in order (<see cref="SecAggStages.Next"/>). A message for another stage, another session or
/// another recipient is refused with the state unchanged. Evidence of a misbehaving server (a bad signature, a tampered
/// or misaddressed share, an inconsistent survivor list, a request for both shares of one peer, too few peers) moves the
/// client to <see cref="SecAggStage.Aborted"/>: it zeroes its secrets and reveals nothing more.</para>
/// <para>Beyond the paper, the client refuses to reveal the self-mask share and the mask-key share of the same peer, and
/// demands the survivor-list signatures of a quorum of the roster (<see cref="SecAggOptions.SignatureQuorum"/>).</para>
/// <para>Cost: when a neighbour's signed keys are accepted (ShareKeys) the client computes both agreements with it once, the
/// <see cref="ShareChannel"/> (one X25519 for the share keys of both directions) and the pairwise seed s_uv, and keeps them
/// until its mask is built. From <c>SecAggParallel.MinimumPeers</c> neighbours up, the per-neighbour work (signature checks,
/// agreements, share encryption and decryption, mask expansion) runs in parallel; the cheap checks of each message still
/// run in order, and the first failure in message order is the one reported, so behaviour does not depend on the
/// schedule.</para>
/// </remarks>
public sealed class SecAggClient : IDisposable
{
    private readonly SecAggSession _session;
    private readonly IdentityKeyPair _identityKey;
    private readonly ulong[] _input;
    private readonly IRandomSource _random;
    private readonly int _threshold;

    // Offsets of the fork streams (added to a fresh draw) of the share-encryption nonces (NonceStream + receiver id) and of
    // the Shamir coefficients of b_u and of s_u^SK.
    private const ulong NonceStream = 0x5EC0_A660_0000_0000UL;
    private const ulong SelfShareStream = 0x5EC0_A661_0000_0000UL;
    private const ulong KeyShareStream = 0x5EC0_A661_0000_0001UL;

    private AgreementKeyPair? _cipherKey;
    private AgreementKeyPair? _maskKey;
    private byte[]? _maskPrivate;
    private byte[]? _selfMaskSeed;

    // Neighbour v → its share channel and pairwise mask seed (U1 ∩ N(u)), then v → the shares it gave us (U2 ∩ N(u)).
    private Dictionary<int, Peer>? _peers;
    private SortedDictionary<int, (byte[] SelfMaskShare, byte[] MaskKeyShare)>? _heldShares;
    private byte[]? _ownSelfMaskShare;
    private int[]? _signedSurvivors;
    private byte[]? _signedPayload;

    /// <param name="session">The public round parameters shared with the server.</param>
    /// <param name="clientId">This client's id in the roster.</param>
    /// <param name="identityKey">This client's Ed25519 identity key; its public key must be the roster's entry. The caller keeps ownership.</param>
    /// <param name="input">The quantized input x_u, D values in Z_{2^k}.</param>
    /// <param name="random">The source of every secret this client draws (keys, seeds, Shamir coefficients, nonces).</param>
    public SecAggClient(SecAggSession session, int clientId, IdentityKeyPair identityKey, ReadOnlySpan<ulong> input, IRandomSource random)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(identityKey);
        ArgumentNullException.ThrowIfNull(random);
        if (!session.IsClient(clientId))
        {
            throw new ArgumentOutOfRangeException(nameof(clientId), clientId, $"Client ids run from 0 to {session.Options.ClientCount - 1}.");
        }

        if (!identityKey.PublicKey.Equals(session.IdentityKeys[clientId]))
        {
            throw new ArgumentException($"The identity key is not the Ed25519 key the roster lists for client {clientId}.", nameof(identityKey));
        }

        SecAggOptions options = session.Options;
        if (input.Length != options.Dimension)
        {
            throw new ArgumentException($"The input has {input.Length} elements; the session expects D = {options.Dimension}.", nameof(input));
        }

        ulong mask = options.ModulusMask;
        for (int i = 0; i < input.Length; i++)
        {
            if (input[i] > mask)
            {
                throw new ArgumentException($"Input element {i} = {input[i]} is outside Z_2^{options.ModulusBits}; quantize it first.", nameof(input));
            }
        }

        _session = session;
        ClientId = clientId;
        _identityKey = identityKey;
        _input = input.ToArray();
        _random = random;
        _threshold = options.Threshold;
    }

    /// <summary>This client's id in the roster.</summary>
    public int ClientId { get; }

    /// <summary>The stage this client is in: the next server message it accepts belongs to this stage.</summary>
    public SecAggStage Stage { get; private set; } = SecAggStage.AdvertiseKeys;

    /// <summary>Why the client aborted, when <see cref="Stage"/> is <see cref="SecAggStage.Aborted"/>.</summary>
    public SecAggProtocolException? AbortReason { get; private set; }

    /// <summary>Dispatches a server message to the method for its stage.</summary>
    public SecAggClientMessage Handle(SecAggServerMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return message switch
        {
            KeysBroadcastMessage m => ShareKeys(m),
            SharesDeliveryMessage m => MaskInput(m),
            SurvivorListMessage m => SignSurvivors(m),
            UnmaskingRequestMessage m => Unmask(m),
            _ => throw new ArgumentException($"Unknown server message type {message.GetType().Name}.", nameof(message)),
        };
    }

    /// <summary>AdvertiseKeys: draws the share-encryption and mask key pairs and signs their public halves.</summary>
    public AdvertiseKeysMessage AdvertiseKeys()
    {
        Expect(SecAggStage.AdvertiseKeys, SecAggStage.AdvertiseKeys, "AdvertiseKeys");
        _cipherKey = AgreementKeyPair.Generate(_random);
        _maskKey = AgreementKeyPair.Generate(_random);
        _maskPrivate = new byte[AgreementKeyPair.PrivateKeySize];
        _maskKey.ExportPrivateKey(_maskPrivate);

        byte[] cpk = _cipherKey.PublicKey.ToBytes();
        byte[] mpk = _maskKey.PublicKey.ToBytes();
        byte[] signature = _identityKey.Sign(SecAggBinding.AdvertisePurpose, _session.Binding.AdvertisePayload(ClientId, cpk, mpk));
        Stage = SecAggStage.ShareKeys;
        return new AdvertiseKeysMessage(_session.SessionId, _session.Round, ClientId, cpk, mpk, signature);
    }

    /// <summary>
    /// ShareKeys: checks every neighbour's signed keys, draws the self-mask seed b_u, Shamir-shares b_u and the mask
    /// private key among those neighbours, and encrypts each neighbour's pair of shares to it.
    /// </summary>
    public ShareKeysMessage ShareKeys(KeysBroadcastMessage message)
    {
        CheckAddressed(message, "KeysBroadcast");
        IReadOnlyList<AdvertiseKeysMessage> keys = message.Keys;

        // The cheap checks run in order up to the first failure; the signature checks and agreements of the entries
        // before it run in parallel; the first failure in message order is then reported, as a sequential loop would.
        var seen = new HashSet<int>();
        int checkable = keys.Count;
        SecAggProtocolException? structural = null;
        for (int i = 0; i < keys.Count && structural is null; i++)
        {
            structural = CheckKeysEntry(keys[i], seen);
            if (structural is not null)
            {
                checkable = i;
            }
        }

        var verified = new Peer?[checkable];
        var rejections = new string?[checkable];
        SecAggParallel.For(checkable, i => verified[i] = TryAcceptKeys(keys[i], out rejections[i]));
        var peers = new Dictionary<int, Peer>(checkable);
        for (int i = 0; i < checkable; i++)
        {
            if (verified[i] is not { } peer)
            {
                DisposePeers(verified);
                int v = keys[i].Sender;
                throw Abort(new SecAggSignatureException(Stage, v, $"The advertised keys of client {v} are rejected: {rejections[i]}."));
            }

            peers.Add(peer.Id, peer);
        }

        if (structural is not null)
        {
            DisposePeers(verified);
            throw Abort(structural);
        }

        if (peers.Count + 1 < _threshold)
        {
            DisposePeers(verified);
            throw Abort(new SecAggInsufficientSurvivorsException(Stage, peers.Count + 1, _threshold,
                $"Stage ShareKeys: client {ClientId} received keys from {peers.Count} of its {_session.Options.NeighbourCount} neighbours; with its own share that is below the threshold t = {_threshold}."));
        }

        _peers = peers;
        _selfMaskSeed = new byte[SecAggCrypto.SeedLength];
        _random.NextBytes(_selfMaskSeed);
        // As in Bonawitz et al., the client keeps one share of b_u itself (revealed only when it survives), so a survivor
        // needs t − 1 neighbours to unmask. Its own share of s_u^SK would never be revealed, so it is dropped at once.
        int[] holders = peers.Keys.Append(ClientId).Order().ToArray();
        // The two sharings are independent: each draws its coefficients from its own fork, so they can run side by side.
        // The fork streams start from a fresh draw, so a seeded source reused for another client or round never repeats
        // them (a CSPRNG's fork is the CSPRNG itself).
        ulong streams = _random.NextUInt64();
        IRandomSource selfRandom;
        IRandomSource keyRandom;
        unchecked
        {
            selfRandom = _random.Fork(streams + SelfShareStream);
            keyRandom = _random.Fork(streams + KeyShareStream);
        }

        byte[][] selfShares = [];
        byte[][] keyShares = [];
        SecAggParallel.Invoke(
            holders.Length,
            () => selfShares = SecAggCrypto.Split(_selfMaskSeed, holders, _threshold, selfRandom),
            () => keyShares = SecAggCrypto.Split(_maskPrivate, holders, _threshold, keyRandom));
        int own = Array.IndexOf(holders, ClientId);
        _ownSelfMaskShare = selfShares[own];
        CryptographicOperations.ZeroMemory(keyShares[own]);

        // Each encryption draws its nonce from its own fork of the client's source, so the parallel loop never shares a
        // source between threads and a seeded run stays reproducible whatever the schedule.
        var nonceSources = new IRandomSource[holders.Length];
        for (int i = 0; i < holders.Length; i++)
        {
            nonceSources[i] = _random.Fork(unchecked(streams + NonceStream + (ulong)holders[i]));
        }

        var shares = new EncryptedShare[holders.Length];
        try
        {
            SecAggParallel.For(holders.Length, i =>
            {
                int v = holders[i];
                if (v == ClientId)
                {
                    return;
                }

                byte[] plaintext = SecAggShareBundle.Encode(ClientId, v, selfShares[i], keyShares[i]);
                try
                {
                    shares[i] = new EncryptedShare(ClientId, v, peers[v].Channel.Encrypt(plaintext, nonceSources[i]));
                }
                finally
                {
                    CryptographicOperations.ZeroMemory(plaintext);
                }
            });
        }
        finally
        {
            for (int i = 0; i < holders.Length; i++)
            {
                CryptographicOperations.ZeroMemory(keyShares[i]);
                if (i != own)
                {
                    CryptographicOperations.ZeroMemory(selfShares[i]);
                }
            }
        }

        Stage = SecAggStage.MaskedInputCollection;
        return new ShareKeysMessage(_session.SessionId, _session.Round, ClientId, shares.Where((_, i) => i != own).ToArray());
    }

    /// <summary>
    /// MaskedInputCollection: decrypts and checks the shares addressed to this client, then sends
    /// y_u = x_u + PRG(b_u) + Σ_{v ∈ U2 ∩ N(u)} ±PRG(s_uv) mod 2^k (plus for v &gt; u, minus for v &lt; u).
    /// </summary>
    public MaskedInputMessage MaskInput(SharesDeliveryMessage message)
    {
        CheckAddressed(message, "SharesDelivery");
        IReadOnlyList<EncryptedShare> delivered = message.Shares;

        // As in ShareKeys: cheap checks in order, decryption of the entries before the first failure in parallel, then
        // the first failure in message order is reported.
        var seen = new HashSet<int>();
        int checkable = delivered.Count;
        SecAggProtocolException? structural = null;
        for (int i = 0; i < delivered.Count && structural is null; i++)
        {
            structural = CheckShareEntry(delivered[i], seen);
            if (structural is not null)
            {
                checkable = i;
            }
        }

        var opened = new (byte[] SelfShare, byte[] KeyShare)?[checkable];
        var decoded = new (bool Authentic, int From, int To)[checkable];
        SecAggParallel.For(checkable, i =>
        {
            EncryptedShare share = delivered[i];
            if (!_peers![share.Sender].Channel.TryDecrypt(share.Ciphertext ?? [], out byte[]? plaintext))
            {
                decoded[i] = (false, -1, -1);
                return;
            }

            try
            {
                if (SecAggShareBundle.TryDecode(plaintext, out int from, out int to, out byte[]? selfShare, out byte[]? keyShare) && from == share.Sender && to == ClientId)
                {
                    opened[i] = (selfShare, keyShare);
                }
                else if (selfShare is not null)
                {
                    CryptographicOperations.ZeroMemory(selfShare);
                    CryptographicOperations.ZeroMemory(keyShare);
                }

                decoded[i] = (true, from, to);
            }
            finally
            {
                CryptographicOperations.ZeroMemory(plaintext);
            }
        });

        var held = new SortedDictionary<int, (byte[], byte[])>();
        try
        {
            for (int i = 0; i < checkable; i++)
            {
                EncryptedShare share = delivered[i];
                if (!decoded[i].Authentic)
                {
                    throw Abort(new SecAggShareDecryptionException(Stage, share.Sender, ClientId,
                        $"The share from client {share.Sender} to client {ClientId} failed authentication: it was tampered with or bound to another session, round, sender or receiver."));
                }

                if (opened[i] is not { } pair)
                {
                    (_, int from, int to) = decoded[i];
                    throw Abort(new SecAggWrongRecipientException(Stage, ClientId, to,
                        $"The share bundle from client {share.Sender} names sender {from} and receiver {to} inside its ciphertext; client {ClientId} expected itself as receiver."));
                }

                held.Add(share.Sender, pair);
                opened[i] = null;
            }

            if (structural is not null)
            {
                throw Abort(structural);
            }

            if (held.Count + 1 < _threshold)
            {
                throw Abort(new SecAggInsufficientSurvivorsException(Stage, held.Count + 1, _threshold,
                    $"Stage MaskedInputCollection: client {ClientId} received shares from {held.Count} neighbours; with its own share that is below the threshold t = {_threshold}."));
            }
        }
        catch
        {
            ZeroShares(held);
            foreach (var rest in opened)
            {
                if (rest is { } pair)
                {
                    CryptographicOperations.ZeroMemory(pair.SelfShare);
                    CryptographicOperations.ZeroMemory(pair.KeyShare);
                }
            }

            throw;
        }

        SecAggOptions options = _session.Options;
        ulong[] y = Mask(held.Keys.ToArray(), options.ModulusBits);
        Array.Clear(_input);
        _heldShares = held;
        // The share keys have done their work; the pairwise seeds too, once the mask is built.
        DisposePeers(_peers!.Values);
        Stage = SecAggStage.ConsistencyCheck;
        return new MaskedInputMessage(_session.SessionId, _session.Round, ClientId, y);
    }

    /// <summary>
    /// ConsistencyCheck: checks the survivor list (ascending ids of the roster, at least t of them, including this client,
    /// and naming no neighbour this client did not mask with) and signs it. The client signs one list per round only.
    /// </summary>
    public ConsistencySignatureMessage SignSurvivors(SurvivorListMessage message)
    {
        CheckAddressed(message, "SurvivorList");
        int[] survivors = CheckSurvivorList(message.Survivors);
        byte[] payload = _session.Binding.SurvivorPayload(survivors);
        byte[] signature = _identityKey.Sign(SecAggBinding.SurvivorsPurpose, payload);
        _signedSurvivors = survivors;
        _signedPayload = payload;
        Stage = SecAggStage.Unmasking;
        return new ConsistencySignatureMessage(_session.SessionId, _session.Round, ClientId, signature);
    }

    /// <summary>
    /// Unmasking: checks that the survivor list is the one this client signed, that a quorum of survivors signed that same
    /// list, and that no dropped peer is also a survivor; then reveals b-shares of surviving neighbours and mask-key
    /// shares of dropped neighbours, never both for one peer.
    /// </summary>
    public UnmaskingResponseMessage Unmask(UnmaskingRequestMessage message)
    {
        CheckAddressed(message, "UnmaskingRequest");
        int[] signed = _signedSurvivors!;
        if (!message.Survivors.SequenceEqual(signed))
        {
            throw Abort(new SecAggInconsistentSurvivorsException(Stage,
                $"The unmasking request to client {ClientId} lists {message.Survivors.Count} survivors that differ from the {signed.Length} this client signed."));
        }

        var survivorSet = new HashSet<int>(signed);
        var signers = new HashSet<int>();
        IReadOnlyList<ConsistencySignatureMessage> signatures = message.Signatures;

        // Cheap checks in order up to the first failure, the signatures before it verified in parallel, then the first
        // failure in message order reported. Every signature in the request is verified, not just a quorum of them.
        int checkable = signatures.Count;
        SecAggProtocolException? structural = null;
        for (int i = 0; i < signatures.Count && structural is null; i++)
        {
            ConsistencySignatureMessage s = signatures[i];
            if (s is null || s.SessionId != _session.SessionId || s.Round != _session.Round)
            {
                structural = new SecAggInconsistentSurvivorsException(Stage, "A survivor-list signature is missing or belongs to another session or round.");
            }
            else if (!survivorSet.Contains(s.Sender) || !signers.Add(s.Sender))
            {
                structural = new SecAggInvalidMessageException(Stage, $"The unmasking request carries a signature from client {s.Sender}, which is not a survivor or signed twice.");
            }

            if (structural is not null)
            {
                checkable = i;
            }
        }

        var valid = new bool[checkable];
        SecAggParallel.For(checkable, i =>
        {
            ConsistencySignatureMessage s = signatures[i];
            valid[i] = s.Signature is not null && _session.IdentityKeys[s.Sender].Verify(SecAggBinding.SurvivorsPurpose, _signedPayload!, s.Signature);
        });
        for (int i = 0; i < checkable; i++)
        {
            if (!valid[i])
            {
                throw Abort(new SecAggInconsistentSurvivorsException(Stage,
                    $"The signature of client {signatures[i].Sender} does not verify over the survivor list client {ClientId} signed: the server may be showing clients different lists."));
            }
        }

        if (structural is not null)
        {
            throw Abort(structural);
        }

        int quorum = _session.Options.SignatureQuorum;
        if (signers.Count < quorum)
        {
            throw Abort(new SecAggInsufficientSurvivorsException(Stage, signers.Count, quorum,
                $"Stage Unmasking: client {ClientId} saw {signers.Count} valid survivor-list signatures; the quorum is {quorum}."));
        }

        var dropped = new HashSet<int>();
        foreach (int v in message.Dropped)
        {
            if (survivorSet.Contains(v))
            {
                throw Abort(new SecAggBothSharesRequestedException(Stage, v,
                    $"The server asked client {ClientId} for the mask-key share of client {v}, which it also lists as a survivor (whose self-mask share it asks for): revealing both would unmask client {v}."));
            }

            if (!dropped.Add(v))
            {
                throw Abort(new SecAggInvalidMessageException(Stage, $"The unmasking request lists dropped client {v} twice."));
            }

            if (!_heldShares!.ContainsKey(v))
            {
                throw Abort(new SecAggInvalidMessageException(Stage, $"The unmasking request asks client {ClientId} about client {v}, whose shares it does not hold."));
            }
        }

        var selfMaskShares = new List<RevealedShare> { new(ClientId, (byte[])_ownSelfMaskShare!.Clone()) };
        var maskKeyShares = new List<RevealedShare>();
        foreach ((int v, (byte[] selfShare, byte[] keyShare)) in _heldShares!)
        {
            // Each held peer is either a survivor or dropped, never both: the checks above make the two sets disjoint.
            if (survivorSet.Contains(v))
            {
                selfMaskShares.Add(new RevealedShare(v, (byte[])selfShare.Clone()));
            }
            else if (dropped.Contains(v))
            {
                maskKeyShares.Add(new RevealedShare(v, (byte[])keyShare.Clone()));
            }
        }

        Stage = SecAggStage.Completed;
        ZeroSecrets();
        return new UnmaskingResponseMessage(_session.SessionId, _session.Round, ClientId, selfMaskShares, maskKeyShares);
    }

    /// <summary>Zeroes and releases every secret this client holds.</summary>
    public void Dispose()
    {
        ZeroSecrets();
        if (!SecAggStages.IsTerminal(Stage))
        {
            Stage = SecAggStage.Aborted;
        }
    }

    /// <inheritdoc/>
    public override string ToString() => $"SecAggClient({ClientId}, {Stage})";

    // y_u = x_u + PRG(b_u) + Σ_v ±PRG(s_uv) mod 2^k, in 32-bit words when k ≤ 32 (see SecAggCrypto.UsesNarrowWords). The
    // pairwise masks are expanded in parallel into per-worker sums; addition mod 2^k makes the result schedule-independent.
    private ulong[] Mask(int[] peers, int bits)
    {
        if (SecAggCrypto.UsesNarrowWords(bits))
        {
            uint[] narrow = new uint[_input.Length];
            for (int i = 0; i < narrow.Length; i++)
            {
                narrow[i] = (uint)_input[i];
            }

            SecAggCrypto.SelfMask(_selfMaskSeed!, narrow, bits, subtract: false);
            SecAggParallel.Accumulate(narrow, peers.Length, (i, acc) => PairwiseMaskSeed.Apply(_peers![peers[i]].MaskSeed, ClientId, peers[i], acc, bits), (uint)_session.Options.ModulusMask);
            ulong[] wide = SecAggCrypto.Widen(narrow);
            Array.Clear(narrow);
            return wide;
        }

        ulong[] y = (ulong[])_input.Clone();
        SecAggCrypto.SelfMask(_selfMaskSeed!, y, bits, subtract: false);
        SecAggParallel.Accumulate(y, peers.Length, (i, acc) => PairwiseMaskSeed.Apply(_peers![peers[i]].MaskSeed, ClientId, peers[i], acc, bits), _session.Options.ModulusMask);
        return y;
    }

    // The cheap checks of one key-broadcast entry, in the order a sequential loop made them; null when it passes.
    private SecAggProtocolException? CheckKeysEntry(AdvertiseKeysMessage? keys, HashSet<int> seen)
    {
        if (keys is null)
        {
            return new SecAggInvalidMessageException(Stage, "The key broadcast contains a null entry.");
        }

        int v = keys.Sender;
        if (!_session.IsClient(v) || !_session.AreNeighbours(ClientId, v))
        {
            return new SecAggInvalidMessageException(Stage, $"The key broadcast lists client {v}, which is not a neighbour of client {ClientId}.");
        }

        if (!seen.Add(v))
        {
            return new SecAggInvalidMessageException(Stage, $"The key broadcast lists client {v} twice.");
        }

        if (keys.SessionId != _session.SessionId || keys.Round != _session.Round)
        {
            return new SecAggSignatureException(Stage, v, $"The keys of client {v} were advertised for session '{keys.SessionId}' round {keys.Round}, not this round.");
        }

        return null;
    }

    // Verifies one neighbour's signed keys and does both agreements with them (Bonawitz et al.: c_u with c_v for the share
    // channel, s_u with s_v for the pairwise seed), so no agreement is computed twice. Thread-safe: it reads shared state only.
    private Peer? TryAcceptKeys(AdvertiseKeysMessage keys, out string? why)
    {
        if (!TryVerifyKeys(keys, out AgreementPublicKey? cipher, out AgreementPublicKey? mask, out why))
        {
            return null;
        }

        ShareChannel? channel = null;
        byte[] seed = new byte[PairwiseMaskSeed.Size];
        try
        {
            channel = ShareChannel.Establish(_cipherKey!, ClientId, cipher, keys.Sender, _session.Binding.Crypto);
            PairwiseMaskSeed.Derive(_maskKey!, ClientId, mask, keys.Sender, _session.Binding.Crypto, seed);
            return new Peer(keys.Sender, channel, seed);
        }
        catch (CryptographicException)
        {
            channel?.Dispose();
            CryptographicOperations.ZeroMemory(seed);
            why = "a public key is a low-order X25519 point, whose shared secret would be all zeros";
            return null;
        }
    }

    // The cheap checks of one delivered share, in the order a sequential loop made them; null when it passes.
    private SecAggProtocolException? CheckShareEntry(EncryptedShare? share, HashSet<int> seen)
    {
        if (share is null)
        {
            return new SecAggInvalidMessageException(Stage, "The share delivery contains a null entry.");
        }

        if (share.Receiver != ClientId)
        {
            return new SecAggWrongRecipientException(Stage, ClientId, share.Receiver,
                $"Client {ClientId} was delivered a share from client {share.Sender} addressed to client {share.Receiver}.");
        }

        if (!_peers!.ContainsKey(share.Sender))
        {
            return new SecAggInvalidMessageException(Stage,
                $"Client {ClientId} was delivered a share from client {share.Sender}, which is not a neighbour whose keys it received.");
        }

        if (!seen.Add(share.Sender))
        {
            return new SecAggInvalidMessageException(Stage, $"Client {ClientId} was delivered two shares from client {share.Sender}.");
        }

        return null;
    }

    private static void DisposePeers(IEnumerable<Peer?> peers)
    {
        foreach (Peer? peer in peers)
        {
            peer?.Dispose();
        }
    }

    private int[] CheckSurvivorList(IReadOnlyList<int> list)
    {
        var survivors = new int[list.Count];
        for (int i = 0; i < list.Count; i++)
        {
            int s = list[i];
            if (!_session.IsClient(s) || (i > 0 && s <= survivors[i - 1]))
            {
                throw Abort(new SecAggInvalidMessageException(Stage, $"The survivor list must be ascending distinct client ids; entry {i} is {s}."));
            }

            survivors[i] = s;
        }

        if (Array.BinarySearch(survivors, ClientId) < 0)
        {
            throw Abort(new SecAggInconsistentSurvivorsException(Stage, $"The survivor list sent to client {ClientId} does not contain it, although it sent its masked input."));
        }

        if (survivors.Length < _threshold)
        {
            throw Abort(new SecAggInsufficientSurvivorsException(Stage, survivors.Length, _threshold,
                $"Stage ConsistencyCheck: the survivor list has {survivors.Length} clients; the threshold is t = {_threshold}."));
        }

        foreach (int v in survivors)
        {
            if (v != ClientId && _session.AreNeighbours(ClientId, v) && !_heldShares!.ContainsKey(v))
            {
                throw Abort(new SecAggInconsistentSurvivorsException(Stage,
                    $"The survivor list names neighbour {v}, but client {ClientId} never received its shares and did not mask with it."));
            }
        }

        return survivors;
    }

    private bool TryVerifyKeys(AdvertiseKeysMessage keys, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out AgreementPublicKey? cipher,
        [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out AgreementPublicKey? mask, [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out string? why)
    {
        cipher = null;
        mask = null;
        if (keys.Signature is null || keys.Signature.Length != IdentityPublicKey.SignatureSize)
        {
            why = "the signature is missing or has the wrong length";
            return false;
        }

        if (keys.CipherPublicKey is null || keys.MaskPublicKey is null)
        {
            why = "a public key is missing";
            return false;
        }

        byte[] payload = _session.Binding.AdvertisePayload(keys.Sender, keys.CipherPublicKey, keys.MaskPublicKey);
        if (!_session.IdentityKeys[keys.Sender].Verify(SecAggBinding.AdvertisePurpose, payload, keys.Signature))
        {
            why = "the Ed25519 signature does not verify under its identity key";
            return false;
        }

        if (!SecAggCrypto.TryImportAgreementPublicKey(keys.CipherPublicKey, out cipher) || !SecAggCrypto.TryImportAgreementPublicKey(keys.MaskPublicKey, out mask))
        {
            why = "a public key is not a valid X25519 key";
            return false;
        }

        why = null;
        return true;
    }

    private void CheckAddressed(SecAggServerMessage message, string what)
    {
        ArgumentNullException.ThrowIfNull(message);
        Expect(Stage, message.Stage, what);
        if (message.SessionId != _session.SessionId || message.Round != _session.Round)
        {
            throw new SecAggReplayException(Stage, -1,
                $"{what} for session '{message.SessionId}' round {message.Round} refused: client {ClientId} is in session '{_session.SessionId}' round {_session.Round}.");
        }

        if (message.Recipient != ClientId)
        {
            throw new SecAggWrongRecipientException(Stage, ClientId, message.Recipient, $"{what} addressed to client {message.Recipient} was delivered to client {ClientId}.");
        }
    }

    private void Expect(SecAggStage expected, SecAggStage messageStage, string what)
    {
        if (Stage != expected || messageStage != Stage)
        {
            throw new SecAggOutOfOrderException(Stage, messageStage, what);
        }
    }

    private SecAggProtocolException Abort(SecAggProtocolException error)
    {
        AbortReason = error;
        Stage = SecAggStage.Aborted;
        ZeroSecrets();
        return error;
    }

    private void ZeroSecrets()
    {
        _cipherKey?.Dispose();
        _maskKey?.Dispose();
        _cipherKey = null;
        _maskKey = null;
        if (_maskPrivate is not null)
        {
            CryptographicOperations.ZeroMemory(_maskPrivate);
        }

        if (_selfMaskSeed is not null)
        {
            CryptographicOperations.ZeroMemory(_selfMaskSeed);
        }

        if (_ownSelfMaskShare is not null)
        {
            CryptographicOperations.ZeroMemory(_ownSelfMaskShare);
        }

        Array.Clear(_input);
        if (_heldShares is not null)
        {
            ZeroShares(_heldShares);
        }

        if (_peers is not null)
        {
            DisposePeers(_peers.Values);
        }
    }

    private static void ZeroShares(SortedDictionary<int, (byte[] SelfMaskShare, byte[] MaskKeyShare)> shares)
    {
        foreach ((byte[] a, byte[] b) in shares.Values)
        {
            CryptographicOperations.ZeroMemory(a);
            CryptographicOperations.ZeroMemory(b);
        }
    }

    // A neighbour whose signed keys were accepted: its share channel and the pairwise mask seed s_uv (both secret).
    private sealed class Peer(int id, ShareChannel channel, byte[] maskSeed) : IDisposable
    {
        public int Id { get; } = id;

        public ShareChannel Channel { get; } = channel;

        public byte[] MaskSeed { get; } = maskSeed;

        public void Dispose()
        {
            Channel.Dispose();
            CryptographicOperations.ZeroMemory(MaskSeed);
        }
    }
}
