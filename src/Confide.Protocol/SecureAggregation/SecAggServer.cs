using System.Runtime.ExceptionServices;
using System.Security.Cryptography;
using Confide.Protocol.SecureAggregation.Internal;
using Confide.Randomness;

namespace Confide.Protocol.SecureAggregation;

/// <summary>
/// The server side of secure aggregation (Bonawitz et al. 2017, "Practical Secure Aggregation for Privacy-Preserving
/// Machine Learning", CCS, Figure 4) over SecAgg+ neighbourhoods (Bell et al. 2020). Sans-IO: <see cref="Receive"/>
/// takes client messages for the current stage; <see cref="CloseStage"/> ends the stage when the caller decides its time
/// is up, checks that enough clients survived, and returns the messages for the next stage.
/// </summary>
/// <remarks>
/// <para>A refused message (late, early, replayed, from an unknown or excluded sender, badly signed, malformed) throws a
/// <see cref="SecAggProtocolException"/> and changes nothing. Clients that miss a stage are dropped from the round.</para>
/// <para>After every stage the server checks the survival requirement: at least t survivors, and at least t surviving
/// neighbours for every client whose secrets may need reconstruction; after ConsistencyCheck also the signature quorum.
/// If it fails the round aborts with <see cref="SecAggInsufficientSurvivorsException"/> naming the stage and counts.</para>
/// <para>Not thread-safe: the caller serialises <see cref="Receive"/> and <see cref="CloseStage"/> (the final reconstruction
/// itself runs in parallel). A host that must not hold its lock during the final reconstruction closes Unmasking with
/// <see cref="BeginReconstruction"/> instead, runs the returned <see cref="SecAggReconstruction"/> outside the lock, and
/// commits it with <see cref="CompleteReconstruction"/>.</para>
/// </remarks>
public sealed class SecAggServer
{
    private readonly SecAggSession _session;
    private readonly IRandomSource _random;
    private readonly int _n;
    private readonly int _threshold;

    private readonly AdvertiseKeysMessage?[] _keys;
    private readonly ShareKeysMessage?[] _shares;
    private readonly ulong[]?[] _masked;
    private readonly ConsistencySignatureMessage?[] _signatures;
    private readonly UnmaskingResponseMessage?[] _responses;

    // alive[s][u]: client u completed stage s (U1 … U5).
    private readonly bool[][] _alive;
    private readonly int[] _counts = new int[5];
    private int[]? _survivors;
    private byte[] _survivorPayload = [];
    private SecAggResult? _result;
    private SecAggReconstruction? _pending;

    /// <param name="session">The public round parameters shared with the clients.</param>
    /// <param name="random">Randomness for the Shamir consistency checks during reconstruction.</param>
    public SecAggServer(SecAggSession session, IRandomSource random)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(random);
        _session = session;
        _random = random;
        _n = session.Options.ClientCount;
        _threshold = session.Options.Threshold;
        _keys = new AdvertiseKeysMessage?[_n];
        _shares = new ShareKeysMessage?[_n];
        _masked = new ulong[]?[_n];
        _signatures = new ConsistencySignatureMessage?[_n];
        _responses = new UnmaskingResponseMessage?[_n];
        _alive = new bool[5][];
        for (int s = 0; s < 5; s++)
        {
            _alive[s] = new bool[_n];
        }
    }

    /// <summary>The stage whose client messages the server currently accepts.</summary>
    public SecAggStage Stage { get; private set; } = SecAggStage.AdvertiseKeys;

    /// <summary>Why the round aborted, when <see cref="Stage"/> is <see cref="SecAggStage.Aborted"/>.</summary>
    public SecAggProtocolException? AbortReason { get; private set; }

    /// <summary>The sum and the survivor list, once <see cref="Stage"/> is <see cref="SecAggStage.Completed"/>.</summary>
    public SecAggResult Result => _result ?? throw new InvalidOperationException($"The round has no result yet: the server is in stage {Stage}.");

    /// <summary>True between <see cref="BeginReconstruction"/> and <see cref="CompleteReconstruction"/> (Unmasking is closed).</summary>
    public bool IsReconstructing => _pending is not null && Stage == SecAggStage.Unmasking;

    /// <summary>How many clients have been accepted in the current stage so far.</summary>
    public int ReceivedInCurrentStage => SecAggStages.IsTerminal(Stage) ? 0 : _alive[(int)Stage].Count(a => a);

    /// <summary>True when the server already accepted this client's message for the message's stage (in this session).</summary>
    private bool IsAccepted(SecAggClientMessage message) =>
        message.Stage <= SecAggStage.Unmasking && _session.IsClient(message.Sender)
        && message.SessionId == _session.SessionId && message.Round == _session.Round && _alive[(int)message.Stage][message.Sender];

    /// <summary>Accepts one client message for the current stage, or throws and changes nothing.</summary>
    public void Receive(SecAggClientMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        string what = message.GetType().Name.Replace("Message", string.Empty, StringComparison.Ordinal);
        if (message.Stage != Stage || IsReconstructing)
        {
            // A message this server already accepted, delivered again after its stage closed: its answer was lost and the
            // client retried. The last expected message closes a stage at once, so for that sender every retry comes late.
            // It is a duplicate, not a late message: a client told "late" would take itself for a dropout.
            if (message.Stage <= Stage && IsAccepted(message))
            {
                throw new SecAggReplayException(Stage, message.Sender,
                    $"{what} from client {message.Sender} refused: this client already sent its {message.Stage} message, and that stage has closed since.");
            }

            throw message.Stage != Stage
                ? new SecAggOutOfOrderException(Stage, message.Stage, $"{what} from client {message.Sender}")
                : new SecAggOutOfOrderException(Stage, message.Stage, $"{what} from client {message.Sender}",
                    $"late: stage {Stage} is closed and the server is reconstructing the sum");
        }

        int u = message.Sender;
        if (!_session.IsClient(u))
        {
            throw new SecAggInvalidMessageException(Stage, $"{what} from unknown client {u}; ids run from 0 to {_n - 1}.");
        }

        if (message.SessionId != _session.SessionId || message.Round != _session.Round)
        {
            throw new SecAggReplayException(Stage, u,
                $"{what} from client {u} is for session '{message.SessionId}' round {message.Round}; this is session '{_session.SessionId}' round {_session.Round}.");
        }

        int stage = (int)Stage;
        if (_alive[stage][u])
        {
            throw new SecAggReplayException(Stage, u, $"{what} from client {u} refused: this client already sent its {Stage} message.");
        }

        if (stage > 0 && !_alive[stage - 1][u])
        {
            throw new SecAggInvalidMessageException(Stage, $"{what} from client {u} refused: the client did not complete stage {(SecAggStage)(stage - 1)} and is out of the round.");
        }

        switch (message)
        {
            case AdvertiseKeysMessage m:
                CheckKeys(m);
                _keys[u] = m;
                break;
            case ShareKeysMessage m:
                CheckShares(m);
                _shares[u] = m;
                break;
            case MaskedInputMessage m:
                CheckMaskedInput(m);
                _masked[u] = m.MaskedInput;
                break;
            case ConsistencySignatureMessage m:
                CheckSignature(m);
                _signatures[u] = m;
                break;
            case UnmaskingResponseMessage m:
                CheckResponse(m);
                _responses[u] = m;
                break;
            default:
                throw new SecAggInvalidMessageException(Stage, $"Unknown client message type {message.GetType().Name}.");
        }

        _alive[stage][u] = true;
    }

    /// <summary>
    /// Ends the current stage now (the caller's deadline passed, or every expected message arrived): checks the survival
    /// requirement and returns one message per client that continues. After Unmasking it reconstructs the masks, sets
    /// <see cref="Result"/> and returns no messages.
    /// </summary>
    /// <exception cref="SecAggInsufficientSurvivorsException">Too few clients survived; the round is aborted.</exception>
    public IReadOnlyList<SecAggServerMessage> CloseStage()
    {
        if (Stage == SecAggStage.Unmasking)
        {
            // The same three steps a host that runs the reconstruction outside its lock takes.
            SecAggReconstruction reconstruction = BeginReconstruction();
            reconstruction.Run();
            CompleteReconstruction(reconstruction);
            return [];
        }

        CloseCurrentStage();
        IReadOnlyList<SecAggServerMessage> next;
        try
        {
            next = Stage switch
            {
                SecAggStage.AdvertiseKeys => BroadcastKeys(),
                SecAggStage.ShareKeys => DeliverShares(),
                SecAggStage.MaskedInputCollection => AnnounceSurvivors(),
                _ => RequestUnmasking(),
            };
        }
        catch (SecAggProtocolException ex)
        {
            AbortReason = ex;
            Stage = SecAggStage.Aborted;
            throw;
        }

        Stage = SecAggStages.Next(Stage);
        return next;
    }

    /// <summary>
    /// Closes Unmasking like <see cref="CloseStage"/> but leaves the reconstruction to the caller: checks the survival
    /// requirement and returns the <see cref="SecAggReconstruction"/> to <see cref="SecAggReconstruction.Run"/> (on any
    /// thread) and then pass to <see cref="CompleteReconstruction"/>. Until then <see cref="Stage"/> stays Unmasking,
    /// <see cref="IsReconstructing"/> is true, and every message is refused as late.
    /// </summary>
    /// <exception cref="SecAggInsufficientSurvivorsException">Too few clients survived; the round is aborted.</exception>
    /// <exception cref="InvalidOperationException">The server is not in Unmasking, or a reconstruction is already under way.</exception>
    public SecAggReconstruction BeginReconstruction()
    {
        if (Stage != SecAggStage.Unmasking || _pending is not null)
        {
            throw new InvalidOperationException(
                $"A reconstruction begins when Unmasking closes; the server is in stage {Stage}{(_pending is null ? "" : " with a reconstruction already under way")}.");
        }

        CloseCurrentStage();
        int[] survivors = _survivors!;
        bool[] shared = _alive[1];

        // Nothing these arrays hold changes until CompleteReconstruction: Receive and CloseStage refuse while it is pending.
        _pending = new SecAggReconstruction(this, _session, () => SecAggUnmasker.Recover(_session, _random, survivors, _masked, shared, _keys, _responses, _counts));
        return _pending;
    }

    /// <summary>
    /// Commits a reconstruction begun by <see cref="BeginReconstruction"/> and run since: sets <see cref="Result"/> and
    /// moves to Completed. Returns false, and changes nothing, when the round was aborted in between (a stale result is
    /// never committed).
    /// </summary>
    /// <exception cref="SecAggProtocolException">The reconstruction failed (inconsistent or missing shares); the round is aborted.</exception>
    /// <exception cref="ArgumentException">The reconstruction belongs to another server.</exception>
    /// <exception cref="InvalidOperationException">The reconstruction has not been run yet.</exception>
    public bool CompleteReconstruction(SecAggReconstruction reconstruction)
    {
        ArgumentNullException.ThrowIfNull(reconstruction);
        if (!ReferenceEquals(reconstruction.Owner, this))
        {
            throw new ArgumentException($"The reconstruction of session '{reconstruction.SessionId}' round {reconstruction.Round} belongs to another server.", nameof(reconstruction));
        }

        if (!reconstruction.IsComplete)
        {
            throw new InvalidOperationException("Run the reconstruction before completing it.");
        }

        if (!ReferenceEquals(_pending, reconstruction) || Stage != SecAggStage.Unmasking)
        {
            return false;
        }

        _pending = null;
        if (reconstruction.Failure is { } failure)
        {
            // Reconstruction failed (inconsistent or missing shares): nothing half-finished is exposed.
            AbortReason = failure;
            Stage = SecAggStage.Aborted;
            ExceptionDispatchInfo.Throw(failure);
        }

        _result = reconstruction.Result;
        for (int u = 0; u < _n; u++)
        {
            _masked[u] = null;
        }

        Stage = SecAggStage.Completed;
        return true;
    }

    /// <summary>Abandons the round (for example when the caller's overall deadline passed).</summary>
    public void Abort(string reason)
    {
        if (!SecAggStages.IsTerminal(Stage))
        {
            AbortReason = new SecAggInvalidMessageException(Stage, $"The round was aborted by the caller: {reason}");
            Stage = SecAggStage.Aborted;
        }
    }

    private void CheckKeys(AdvertiseKeysMessage m)
    {
        if (m.Signature is null || m.CipherPublicKey is null || m.MaskPublicKey is null)
        {
            throw new SecAggSignatureException(Stage, m.Sender, $"The keys of client {m.Sender} are unsigned or incomplete.");
        }

        byte[] payload = _session.Binding.AdvertisePayload(m.Sender, m.CipherPublicKey, m.MaskPublicKey);
        if (!_session.IdentityKeys[m.Sender].Verify(SecAggBinding.AdvertisePurpose, payload, m.Signature))
        {
            throw new SecAggSignatureException(Stage, m.Sender, $"The keys of client {m.Sender} are not signed by its Ed25519 identity key.");
        }

        if (!SecAggCrypto.TryImportAgreementPublicKey(m.CipherPublicKey, out _) || !SecAggCrypto.TryImportAgreementPublicKey(m.MaskPublicKey, out _))
        {
            throw new SecAggInvalidMessageException(Stage, $"Client {m.Sender} advertised a public key that is not a valid X25519 key.");
        }

        // The server only relays the keys, so nothing here would trip over a point of small order; every neighbour would,
        // and abort the round. Refusing it now leaves just this client out.
        if (Confide.SecureAggregation.AgreementPublicKey.IsSmallOrder(m.CipherPublicKey) || Confide.SecureAggregation.AgreementPublicKey.IsSmallOrder(m.MaskPublicKey))
        {
            throw new SecAggInvalidMessageException(Stage, $"Client {m.Sender} advertised an X25519 public key of small order, whose shared secret with anyone is all zeros.");
        }
    }

    private void CheckShares(ShareKeysMessage m)
    {
        int u = m.Sender;
        var receivers = new HashSet<int>();
        foreach (EncryptedShare share in m.Shares)
        {
            if (share is null || share.Sender != u || share.Ciphertext is null)
            {
                throw new SecAggInvalidMessageException(Stage, $"ShareKeys from client {u} contains a share that is empty or claims another sender.");
            }

            int v = share.Receiver;
            if (!_session.IsClient(v) || !_session.AreNeighbours(u, v) || !_alive[0][v])
            {
                throw new SecAggInvalidMessageException(Stage, $"ShareKeys from client {u} addresses client {v}, which is not a neighbour that advertised keys.");
            }

            if (!receivers.Add(v))
            {
                throw new SecAggInvalidMessageException(Stage, $"ShareKeys from client {u} addresses client {v} twice.");
            }
        }

        int expected = CountAlive(0, u);
        if (receivers.Count != expected)
        {
            throw new SecAggInvalidMessageException(Stage, $"ShareKeys from client {u} has {receivers.Count} shares; it has {expected} neighbours that advertised keys.");
        }
    }

    private void CheckMaskedInput(MaskedInputMessage m)
    {
        SecAggOptions options = _session.Options;
        if (m.MaskedInput is null || m.MaskedInput.Length != options.Dimension)
        {
            throw new SecAggInvalidMessageException(Stage, $"The masked input of client {m.Sender} has {m.MaskedInput?.Length ?? 0} elements; expected D = {options.Dimension}.");
        }

        ulong largest = System.Numerics.Tensors.TensorPrimitives.Max<ulong>(m.MaskedInput);
        if (largest > options.ModulusMask)
        {
            throw new SecAggInvalidMessageException(Stage, $"The masked input of client {m.Sender} holds {largest}, outside Z_2^{options.ModulusBits}.");
        }
    }

    private void CheckSignature(ConsistencySignatureMessage m)
    {
        if (m.Signature is null || !_session.IdentityKeys[m.Sender].Verify(SecAggBinding.SurvivorsPurpose, _survivorPayload, m.Signature))
        {
            throw new SecAggSignatureException(Stage, m.Sender, $"The survivor-list signature of client {m.Sender} does not verify over the list this server announced.");
        }
    }

    private void CheckResponse(UnmaskingResponseMessage m)
    {
        int u = m.Sender;
        var seen = new HashSet<int>();
        foreach (RevealedShare share in m.SelfMaskShares ?? [])
        {
            int v = CheckRevealed(u, share, seen, ownAllowed: true);
            if (!_alive[2][v])
            {
                throw new SecAggInvalidMessageException(Stage, $"Client {u} revealed a self-mask share of client {v}, which is not a survivor.");
            }
        }

        foreach (RevealedShare share in m.MaskKeyShares ?? [])
        {
            int v = CheckRevealed(u, share, seen, ownAllowed: false);
            if (_alive[2][v] || !_alive[1][v])
            {
                throw new SecAggInvalidMessageException(Stage, $"Client {u} revealed a mask-key share of client {v}, which did not drop after ShareKeys.");
            }
        }
    }

    private int CheckRevealed(int holder, RevealedShare share, HashSet<int> seen, bool ownAllowed)
    {
        if (share is null || share.Share is null || share.Share.Length != SecAggCrypto.ShareLength)
        {
            throw new SecAggInvalidMessageException(Stage, $"Client {holder} revealed a share that is empty or not {SecAggCrypto.ShareLength} bytes.");
        }

        int v = share.Owner;
        bool own = ownAllowed && v == holder;
        if (!_session.IsClient(v) || (!own && !_session.AreNeighbours(holder, v)) || !_alive[1][v])
        {
            throw new SecAggInvalidMessageException(Stage, $"Client {holder} revealed a share of client {v}, which is not a neighbour that completed ShareKeys.");
        }

        if (!seen.Add(v))
        {
            throw new SecAggInvalidMessageException(Stage, $"Client {holder} revealed two shares of client {v}; a client reveals at most one per peer.");
        }

        return v;
    }

    private void CheckSurvival(SecAggStage stage)
    {
        int s = (int)stage;
        bool[] alive = _alive[s];
        int count = _counts[s];
        if (count < _threshold)
        {
            throw new SecAggInsufficientSurvivorsException(stage, count, _threshold,
                $"Stage {stage}: {count} of {_n} clients responded; at least t = {_threshold} are required.");
        }

        if (stage >= SecAggStage.ConsistencyCheck && count < _session.Options.SignatureQuorum)
        {
            throw new SecAggInsufficientSurvivorsException(stage, count, _session.Options.SignatureQuorum,
                $"Stage {stage}: {count} clients signed the survivor list; the quorum is {_session.Options.SignatureQuorum} of {_n}.");
        }

        // Whose secrets may still need reconstructing: before masking, everyone still in; afterwards, the survivors (for
        // b_u) and the clients that dropped after sharing but have a surviving neighbour (for s_u^SK). A client that is
        // still present holds one share of its own b_u, so it counts as a holder of its own secret; a dropped one does not.
        bool[] owners = stage <= SecAggStage.ShareKeys ? alive : _alive[1];
        for (int u = 0; u < _n; u++)
        {
            if (!owners[u] || (stage > SecAggStage.ShareKeys && !_alive[2][u] && CountAlive(2, u) == 0))
            {
                continue;
            }

            int neighbours = CountAlive(s, u);
            int holders = neighbours + (alive[u] ? 1 : 0);
            if (holders < _threshold)
            {
                string self = alive[u] ? " plus itself" : string.Empty;
                throw new SecAggInsufficientSurvivorsException(stage, holders, _threshold,
                    $"Stage {stage}: client {u} has {neighbours} of its {_session.Options.NeighbourCount} neighbours left{self}; its secrets need t = {_threshold} share holders (survivors {count} of {_n}).");
            }
        }
    }

    private int CountAlive(int stage, int u)
    {
        bool[] alive = _alive[stage];
        int count = 0;
        foreach (int v in _session.NeighbourArray(u))
        {
            if (alive[v])
            {
                count++;
            }
        }

        return count;
    }

    private List<SecAggServerMessage> BroadcastKeys()
    {
        var messages = new List<SecAggServerMessage>();
        for (int u = 0; u < _n; u++)
        {
            if (_alive[0][u])
            {
                var keys = _session.NeighbourArray(u).Where(v => _alive[0][v]).Select(v => _keys[v]!).ToArray();
                messages.Add(new KeysBroadcastMessage(_session.SessionId, _session.Round, u, keys));
            }
        }

        return messages;
    }

    private List<SecAggServerMessage> DeliverShares()
    {
        var inbox = new List<EncryptedShare>?[_n];
        for (int u = 0; u < _n; u++)
        {
            if (_alive[1][u])
            {
                foreach (EncryptedShare share in _shares[u]!.Shares)
                {
                    if (_alive[1][share.Receiver])
                    {
                        (inbox[share.Receiver] ??= []).Add(share);
                    }
                }
            }
        }

        var messages = new List<SecAggServerMessage>();
        for (int u = 0; u < _n; u++)
        {
            if (_alive[1][u])
            {
                messages.Add(new SharesDeliveryMessage(_session.SessionId, _session.Round, u, (IReadOnlyList<EncryptedShare>?)inbox[u] ?? []));
            }
        }

        return messages;
    }

    private List<SecAggServerMessage> AnnounceSurvivors()
    {
        _survivors = Enumerable.Range(0, _n).Where(u => _alive[2][u]).ToArray();
        _survivorPayload = _session.Binding.SurvivorPayload(_survivors);
        return _survivors.Select(u => (SecAggServerMessage)new SurvivorListMessage(_session.SessionId, _session.Round, u, _survivors)).ToList();
    }

    private List<SecAggServerMessage> RequestUnmasking()
    {
        // A quorum of signatures over the one list is what a client's check rests on (honest clients sign one list, so two
        // lists cannot both gather a quorum); more add nothing to it but cost every client an Ed25519 verification each.
        // The lowest-id signers' signatures are sent, every one of which the client verifies.
        var signatures = Enumerable.Range(0, _n).Where(u => _alive[3][u]).Select(u => _signatures[u]!).Take(_session.Options.SignatureQuorum).ToArray();
        var messages = new List<SecAggServerMessage>();
        for (int u = 0; u < _n; u++)
        {
            if (_alive[3][u])
            {
                int[] dropped = _session.NeighbourArray(u).Where(v => _alive[1][v] && !_alive[2][v]).ToArray();
                messages.Add(new UnmaskingRequestMessage(_session.SessionId, _session.Round, u, _survivors!, dropped, signatures));
            }
        }

        return messages;
    }

    /// <summary>Counts the current stage's survivors and checks the survival requirement; aborts the round when it fails.</summary>
    private void CloseCurrentStage()
    {
        if (SecAggStages.IsTerminal(Stage))
        {
            throw new SecAggOutOfOrderException(Stage, Stage, "CloseStage");
        }

        if (_pending is not null)
        {
            throw new InvalidOperationException("Unmasking is closed and a reconstruction is under way: complete it with CompleteReconstruction.");
        }

        int stage = (int)Stage;
        _counts[stage] = _alive[stage].Count(a => a);
        try
        {
            CheckSurvival(Stage);
        }
        catch (SecAggInsufficientSurvivorsException ex)
        {
            AbortReason = ex;
            Stage = SecAggStage.Aborted;
            throw;
        }
    }
}
