using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Confide.Client;

/// <summary>
/// The participant's durable memory: its client id and the last round it submitted. It is written after the server has
/// answered a submission (accepted or refused), and flushed to the disk before the next round starts, so a restarted
/// client never submits a round twice.
/// </summary>
/// <remarks>
/// Two slots alternate: the file itself and the file with <c>.b</c> appended. Each save overwrites the older slot in
/// place with the next sequence number and a checksum, then flushes it; a save cut short by a crash leaves the other
/// slot, one save older, intact, and loading takes the newest slot whose checksum holds. Overwriting two fixed files
/// instead of writing a new file and renaming it over the old one also spares the file system an inode allocation and
/// release per round (measurable on ext4 with many clients on one machine). A file written before slots existed (no
/// sequence, no checksum) loads as sequence 0.
/// </remarks>
public sealed class ParticipantProgress
{
    private const string SecondSlotSuffix = ".b";
    private readonly string _path;
    private long _sequence;

    private ParticipantProgress(string path, string? clientId, long lastSubmittedRound, long sequence)
    {
        _path = path;
        ClientId = clientId;
        LastSubmittedRound = lastSubmittedRound;
        _sequence = sequence;
    }

    /// <summary>The enrolled client id, or null.</summary>
    public string? ClientId { get; private set; }

    /// <summary>The last round submitted, or -1.</summary>
    public long LastSubmittedRound { get; private set; }

    /// <summary>Loads the newest intact slot, or starts empty when neither slot exists.</summary>
    /// <exception cref="InvalidDataException">A slot exists but none is intact.</exception>
    public static ParticipantProgress Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        (string? Id, long Last, long Sequence)? best = null;
        var problems = new List<string>();
        foreach (string slot in new[] { path, path + SecondSlotSuffix })
        {
            if (!File.Exists(slot))
            {
                continue;
            }

            if (TryParse(File.ReadAllText(slot, Encoding.UTF8), out var entry, out string? problem))
            {
                if (best is null || entry.Sequence > best.Value.Sequence)
                {
                    best = entry;
                }
            }
            else
            {
                problems.Add($"{slot}: {problem}");
            }
        }

        if (best is { } b)
        {
            return new ParticipantProgress(path, b.Id, b.Last, b.Sequence);
        }

        if (problems.Count > 0)
        {
            throw new InvalidDataException($"The participant progress at {path} is damaged ({string.Join("; ", problems)}). Without it the client cannot tell which rounds it already submitted; restore it from a backup or remove both files to start over.");
        }

        return new ParticipantProgress(path, null, -1, -1);
    }

    /// <summary>Records the client id.</summary>
    public void SetClientId(string clientId)
    {
        ClientId = clientId;
        Save();
    }

    /// <summary>Records that <paramref name="round"/> was submitted.</summary>
    public void MarkSubmitted(long round)
    {
        LastSubmittedRound = Math.Max(LastSubmittedRound, round);
        Save();
    }

    private void Save()
    {
        long next = _sequence + 1;
        string body = string.Create(CultureInfo.InvariantCulture, $"client_id={ClientId}\nlast_submitted_round={LastSubmittedRound}\nsequence={next}\n");
        byte[] bytes = Encoding.UTF8.GetBytes(body + "checksum=" + Checksum(body) + "\n");

        // The slot not holding the newest state: even sequences live in the file itself, odd ones in the second slot.
        string slot = next % 2 == 0 ? _path : _path + SecondSlotSuffix;
        using (var stream = new FileStream(slot, FileMode.OpenOrCreate, FileAccess.Write, FileShare.None))
        {
            stream.Write(bytes);
            stream.SetLength(bytes.Length);
            stream.Flush(flushToDisk: true);
        }

        _sequence = next;
    }

    private static bool TryParse(string text, out (string? Id, long Last, long Sequence) entry, out string? problem)
    {
        entry = (null, -1, 0);
        string? id = null, checksum = null;
        long last = -1;
        long? sequence = null;
        int checksumAt = -1;
        int offset = 0;
        foreach (string line in text.Split('\n'))
        {
            int eq = line.IndexOf('=', StringComparison.Ordinal);
            string key = eq > 0 ? line[..eq].Trim() : "";
            string value = eq > 0 ? line[(eq + 1)..].Trim() : "";
            if (key == "client_id")
            {
                id = value.Length == 0 ? null : value;
            }
            else if (key == "last_submitted_round")
            {
                if (!long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out last) || last < -1)
                {
                    problem = $"last_submitted_round '{value}' is not a round number";
                    return false;
                }
            }
            else if (key == "sequence")
            {
                if (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long parsed))
                {
                    problem = $"sequence '{value}' is not a count";
                    return false;
                }

                sequence = parsed;
            }
            else if (key == "checksum")
            {
                checksum = value;
                checksumAt = offset;
            }

            offset += line.Length + 1;
        }

        if (sequence is null && checksum is null)
        {
            // Written before slots existed: no sequence, no checksum.
            entry = (id, last, 0);
            problem = null;
            return true;
        }

        if (sequence is null || checksum is null || checksum != Checksum(text[..checksumAt]))
        {
            problem = "its checksum does not match (a save was cut short, or the file was edited)";
            return false;
        }

        entry = (id, last, sequence.Value);
        problem = null;
        return true;
    }

    /// <summary>The first 8 bytes of SHA-256, in hex: detects a torn or edited slot; it is not a security measure.</summary>
    private static string Checksum(string body) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(body)).AsSpan(0, 8));
}
