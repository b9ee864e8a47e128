using System.Buffers.Binary;
using Confide.Protocol.SecureAggregation;
using Confide.Wire.V1;
using Google.Protobuf;
using Grpc.Core;

namespace Confide.Server.Internal;

/// <summary>
/// Strict mapping between the confide.v1 SecAgg messages and <see cref="Confide.Protocol.SecureAggregation"/>'s: every
/// field is checked for presence, size and range before a protocol message is built, and a violation is an
/// INVALID_ARGUMENT naming the field. Client ids on the wire are roster strings; the protocol uses roster indices.
/// </summary>
internal static class SecAggWireMapping
{
    private const int KeySize = 32;
    private const int SignatureSize = 64;
    private const int MaxShareBytes = 1024;

    /// <summary>Decodes the stage message of <paramref name="request"/> from roster member <paramref name="sender"/>.</summary>
    public static SecAggClientMessage Decode(SecAggRequest request, SecAggSession session, IReadOnlyDictionary<string, int> index, int sender)
    {
        string sid = session.SessionId;
        long round = session.Round;
        int n = session.Options.ClientCount;
        switch (request.StageCase)
        {
            case SecAggRequest.StageOneofCase.AdvertiseKeys:
                var keys = request.AdvertiseKeys;
                Exact(keys.EncryptionPublicKey, KeySize, "advertise_keys.encryption_public_key");
                Exact(keys.MaskPublicKey, KeySize, "advertise_keys.mask_public_key");
                Exact(keys.Signature, SignatureSize, "advertise_keys.signature");
                return new AdvertiseKeysMessage(sid, round, sender, keys.EncryptionPublicKey.ToByteArray(), keys.MaskPublicKey.ToByteArray(), keys.Signature.ToByteArray());

            case SecAggRequest.StageOneofCase.ShareKeys:
                var bundles = request.ShareKeys.Shares;
                if (bundles.Count > n - 1)
                {
                    throw Invalid($"share_keys has {bundles.Count} shares; a client has at most {n - 1} neighbours");
                }

                var shares = new List<EncryptedShare>(bundles.Count);
                foreach (var bundle in bundles)
                {
                    if (Lookup(index, bundle.FromClientId, "share_keys.shares.from_client_id") != sender)
                    {
                        throw Invalid($"share_keys.shares.from_client_id '{Truncate(bundle.FromClientId)}' is not the sender");
                    }

                    int to = Lookup(index, bundle.ToClientId, "share_keys.shares.to_client_id");
                    Bounded(bundle.Ciphertext, MaxShareBytes, "share_keys.shares.ciphertext");
                    shares.Add(new EncryptedShare(sender, to, bundle.Ciphertext.ToByteArray()));
                }

                return new ShareKeysMessage(sid, round, sender, shares);

            case SecAggRequest.StageOneofCase.MaskedInput:
                return new MaskedInputMessage(sid, round, sender, DecodeMasked(request.MaskedInput.Masked, session.Options));

            case SecAggRequest.StageOneofCase.ConsistencySignature:
                Exact(request.ConsistencySignature.Signature, SignatureSize, "consistency_signature.signature");
                return new ConsistencySignatureMessage(sid, round, sender, request.ConsistencySignature.Signature.ToByteArray());

            case SecAggRequest.StageOneofCase.UnmaskingResponse:
                var response = request.UnmaskingResponse;
                if (response.SelfMaskShares.Count + response.MaskKeyShares.Count > n)
                {
                    throw Invalid($"unmasking_response reveals {response.SelfMaskShares.Count + response.MaskKeyShares.Count} shares; at most {n} (one per roster member) are possible");
                }

                return new UnmaskingResponseMessage(sid, round, sender,
                    Revealed(response.SelfMaskShares, index, "unmasking_response.self_mask_shares"),
                    Revealed(response.MaskKeyShares, index, "unmasking_response.mask_key_shares"));

            default:
                throw Invalid("the request carries no stage message (set one of advertise_keys, share_keys, masked_input, consistency_signature, unmasking_response or poll)");
        }
    }

    /// <summary>Encodes a server message for its recipient, naming clients by their roster ids.</summary>
    public static SecAggResponse Encode(SecAggServerMessage message, IReadOnlyList<string> roster) => message switch
    {
        KeysBroadcastMessage m => new SecAggResponse
        {
            KeysBroadcast = new KeysBroadcast
            {
                Peers =
                {
                    m.Keys.Select(k => new PeerKeys
                    {
                        ClientId = roster[k.Sender],
                        Keys = new AdvertiseKeys
                        {
                            EncryptionPublicKey = ByteString.CopyFrom(k.CipherPublicKey),
                            MaskPublicKey = ByteString.CopyFrom(k.MaskPublicKey),
                            Signature = ByteString.CopyFrom(k.Signature),
                        },
                    }),
                },
            },
        },
        SharesDeliveryMessage m => new SecAggResponse
        {
            SharesDelivery = new SharesDelivery
            {
                Shares = { m.Shares.Select(s => new EncryptedShareBundle { FromClientId = roster[s.Sender], ToClientId = roster[s.Receiver], Ciphertext = ByteString.CopyFrom(s.Ciphertext) }) },
            },
        },
        SurvivorListMessage m => new SecAggResponse { SurvivorList = new SurvivorList { Survivors = { m.Survivors.Select(u => roster[u]) } } },
        UnmaskingRequestMessage m => new SecAggResponse
        {
            UnmaskingRequest = new UnmaskingRequest
            {
                Survivors = { m.Survivors.Select(u => roster[u]) },
                Dropped = { m.Dropped.Select(u => roster[u]) },
                Signatures = { m.Signatures.Select(s => new PeerSignature { ClientId = roster[s.Sender], Signature = ByteString.CopyFrom(s.Signature) }) },
            },
        },
        _ => throw new ArgumentException($"Unknown server message type {message.GetType().Name}.", nameof(message)),
    };

    /// <summary>Bytes per masked word: 4 when the modulus fits 32 bits, else 8.</summary>
    public static int WordSize(int modulusBits) => modulusBits <= 32 ? 4 : 8;

    private static ulong[] DecodeMasked(ByteString bytes, SecAggOptions options)
    {
        int width = WordSize(options.ModulusBits);
        long expected = (long)options.Dimension * width;
        if (bytes.Length != expected)
        {
            throw Invalid($"masked_input.masked has {bytes.Length} bytes; expected {options.Dimension} words of {width} bytes = {expected}");
        }

        var span = bytes.Span;
        var words = new ulong[options.Dimension];
        ulong mask = options.ModulusMask;
        for (int i = 0; i < words.Length; i++)
        {
            ulong w = width == 4 ? BinaryPrimitives.ReadUInt32LittleEndian(span[(4 * i)..]) : BinaryPrimitives.ReadUInt64LittleEndian(span[(8 * i)..]);
            if (w > mask)
            {
                throw Invalid($"masked_input.masked word {i} is {w}, outside Z_2^{options.ModulusBits}");
            }

            words[i] = w;
        }

        return words;
    }

    private static List<RevealedShare> Revealed(IEnumerable<RevealedShareEntry> entries, IReadOnlyDictionary<string, int> index, string field)
    {
        var list = new List<RevealedShare>();
        foreach (var entry in entries)
        {
            int owner = Lookup(index, entry.OwnerClientId, field + ".owner_client_id");
            Bounded(entry.Share, MaxShareBytes, field + ".share");
            list.Add(new RevealedShare(owner, entry.Share.ToByteArray()));
        }

        return list;
    }

    private static int Lookup(IReadOnlyDictionary<string, int> index, string clientId, string field) =>
        index.TryGetValue(clientId, out int u) ? u : throw Invalid($"{field} '{Truncate(clientId)}' is not in this round's roster");

    private static void Exact(ByteString value, int size, string field)
    {
        if (value.Length != size)
        {
            throw Invalid($"{field} has {value.Length} bytes; expected {size}");
        }
    }

    private static void Bounded(ByteString value, int max, string field)
    {
        if (value.Length is 0 || value.Length > max)
        {
            throw Invalid($"{field} has {value.Length} bytes; expected 1 to {max}");
        }
    }

    private static string Truncate(string s) => s.Length <= 64 ? s : s[..64] + "…";

    private static RpcException Invalid(string message) => new(new Status(StatusCode.InvalidArgument, "malformed SecAgg message: " + message));
}
