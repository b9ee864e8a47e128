using System.Buffers.Binary;
using System.Text;

namespace Confide.Protocol.SecureAggregation.Internal;

/// <summary>
/// The byte strings that bind signatures to a session and round. Every field is length-prefixed or fixed-width, so two
/// different transcripts never encode to the same bytes.
/// </summary>
internal sealed class SecAggBinding
{
    private static readonly byte[] AdvertiseLabel = "confide-secagg-v1/advertise-keys"u8.ToArray();
    private static readonly byte[] SurvivorsLabel = "confide-secagg-v1/survivor-list"u8.ToArray();

    private SecAggBinding(string sessionId, long round, byte[] context)
    {
        SessionId = sessionId;
        Round = round;
        Context = context;
        Crypto = SecAggCrypto.Context(sessionId, round);
    }

    /// <summary>The primitives' binding of share ciphertexts and pairwise seeds to this session and round.</summary>
    public Confide.SecureAggregation.SecAggContext Crypto { get; }

    public const string AdvertisePurpose = "secagg-advertise-keys";

    public const string SurvivorsPurpose = "secagg-survivor-list";

    public string SessionId { get; }

    public long Round { get; }

    /// <summary>len(session id) ‖ session id (UTF-8) ‖ round, the prefix of every bound transcript.</summary>
    public byte[] Context { get; }

    public static SecAggBinding Create(string sessionId, long round)
    {
        byte[] id = Encoding.UTF8.GetBytes(sessionId);
        byte[] context = new byte[4 + id.Length + 8];
        BinaryPrimitives.WriteInt32LittleEndian(context, id.Length);
        id.CopyTo(context, 4);
        BinaryPrimitives.WriteInt64LittleEndian(context.AsSpan(4 + id.Length), round);
        return new SecAggBinding(sessionId, round, context);
    }

    /// <summary>What a client signs in AdvertiseKeys: label ‖ context ‖ sender ‖ c^PK ‖ s^PK.</summary>
    public byte[] AdvertisePayload(int sender, ReadOnlySpan<byte> cipherPublicKey, ReadOnlySpan<byte> maskPublicKey)
    {
        byte[] payload = new byte[AdvertiseLabel.Length + Context.Length + 4 + 4 + cipherPublicKey.Length + 4 + maskPublicKey.Length];
        var w = new Writer(payload);
        w.Bytes(AdvertiseLabel);
        w.Bytes(Context);
        w.Int32(sender);
        w.Int32(cipherPublicKey.Length);
        w.Bytes(cipherPublicKey);
        w.Int32(maskPublicKey.Length);
        w.Bytes(maskPublicKey);
        return payload;
    }

    /// <summary>What a client signs in ConsistencyCheck: label ‖ context ‖ count ‖ ascending survivor ids.</summary>
    public byte[] SurvivorPayload(IReadOnlyList<int> survivors)
    {
        byte[] payload = new byte[SurvivorsLabel.Length + Context.Length + 4 + (4 * survivors.Count)];
        var w = new Writer(payload);
        w.Bytes(SurvivorsLabel);
        w.Bytes(Context);
        w.Int32(survivors.Count);
        foreach (int s in survivors)
        {
            w.Int32(s);
        }

        return payload;
    }

    private ref struct Writer(Span<byte> destination)
    {
        private readonly Span<byte> _destination = destination;
        private int _position;

        public void Bytes(ReadOnlySpan<byte> bytes)
        {
            bytes.CopyTo(_destination[_position..]);
            _position += bytes.Length;
        }

        public void Int32(int value)
        {
            BinaryPrimitives.WriteInt32LittleEndian(_destination[_position..], value);
            _position += 4;
        }
    }
}
