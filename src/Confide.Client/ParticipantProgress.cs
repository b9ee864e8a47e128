using System.Globalization;

namespace Confide.Client;

/// <summary>
/// The participant's durable memory: its client id and the last round it submitted, in a small text file written
/// atomically. It is written after the server has answered a submission (accepted or refused), so a restarted client
/// never submits a round twice.
/// </summary>
public sealed class ParticipantProgress
{
    private readonly string _path;

    private ParticipantProgress(string path, string? clientId, long lastSubmittedRound)
    {
        _path = path;
        ClientId = clientId;
        LastSubmittedRound = lastSubmittedRound;
    }

    /// <summary>The enrolled client id, or null.</summary>
    public string? ClientId { get; private set; }

    /// <summary>The last round submitted, or -1.</summary>
    public long LastSubmittedRound { get; private set; }

    /// <summary>Loads the file, or starts empty when it does not exist.</summary>
    public static ParticipantProgress Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
        {
            return new ParticipantProgress(path, null, -1);
        }

        string? id = null;
        long last = -1;
        foreach (string line in File.ReadAllLines(path))
        {
            int eq = line.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                continue;
            }

            string key = line[..eq].Trim();
            string value = line[(eq + 1)..].Trim();
            if (key == "client_id")
            {
                id = value.Length == 0 ? null : value;
            }
            else if (key == "last_submitted_round")
            {
                last = long.Parse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            }
        }

        return new ParticipantProgress(path, id, last);
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
        string temp = _path + ".tmp";
        File.WriteAllText(temp, string.Create(CultureInfo.InvariantCulture, $"client_id={ClientId}\nlast_submitted_round={LastSubmittedRound}\n"));
        File.Move(temp, _path, overwrite: true);
    }
}
