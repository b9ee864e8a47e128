using Confide.Client;

namespace Confide.Server.Tests;

/// <summary>The participant's progress survives restarts, torn saves and files from before the two slots.</summary>
public sealed class ParticipantProgressTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("confide-progress-").FullName;

    private string PathOf(string name) => Path.Combine(_directory, name);

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void A_fresh_file_starts_empty_and_every_save_is_read_back()
    {
        string path = PathOf("p");
        var progress = ParticipantProgress.Load(path);
        Assert.Null(progress.ClientId);
        Assert.Equal(-1, progress.LastSubmittedRound);

        progress.SetClientId("c-1");
        for (long round = 0; round < 5; round++)
        {
            progress.MarkSubmitted(round);
            var loaded = ParticipantProgress.Load(path);
            Assert.Equal("c-1", loaded.ClientId);
            Assert.Equal(round, loaded.LastSubmittedRound);
        }

        // Two slots, overwritten in turn: no other file appears.
        Assert.Equal(["p", "p.b"], Directory.GetFiles(_directory).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void A_save_cut_short_falls_back_to_the_previous_one()
    {
        string path = PathOf("p");
        var progress = ParticipantProgress.Load(path);
        progress.SetClientId("c-2");   // sequence 0, slot "p"
        progress.MarkSubmitted(7);     // sequence 1, slot "p.b"

        // A crash while writing the newest slot leaves a torn file.
        string newest = path + ".b";
        File.WriteAllText(newest, File.ReadAllText(newest)[..20]);
        var loaded = ParticipantProgress.Load(path);
        Assert.Equal("c-2", loaded.ClientId);
        Assert.Equal(-1, loaded.LastSubmittedRound); // one save older

        // Saving again goes to the torn slot's turn and leaves both readable.
        loaded.MarkSubmitted(8);
        Assert.Equal(8, ParticipantProgress.Load(path).LastSubmittedRound);
    }

    [Fact]
    public void An_edited_slot_is_not_trusted()
    {
        string path = PathOf("p");
        var progress = ParticipantProgress.Load(path);
        progress.SetClientId("c-3");
        progress.MarkSubmitted(3);
        File.WriteAllText(path + ".b", File.ReadAllText(path + ".b").Replace("last_submitted_round=3", "last_submitted_round=1", StringComparison.Ordinal));
        Assert.Equal(-1, ParticipantProgress.Load(path).LastSubmittedRound); // the edited slot is ignored, the older one read
    }

    [Fact]
    public void When_no_slot_is_intact_the_error_says_so_and_names_the_file()
    {
        string path = PathOf("p");
        File.WriteAllText(path, "client_id=c-4\nlast_submitted_round=x\n");
        var ex = Assert.Throws<InvalidDataException>(() => ParticipantProgress.Load(path));
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Contains("last_submitted_round 'x'", ex.Message, StringComparison.Ordinal);

        File.WriteAllText(path, "client_id=c-4\nlast_submitted_round=2\nsequence=4\nchecksum=0000000000000000\n");
        Assert.Contains("checksum", Assert.Throws<InvalidDataException>(() => ParticipantProgress.Load(path)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_from_before_the_slots_is_read_and_then_carried_on()
    {
        string path = PathOf("p");
        File.WriteAllText(path, "client_id=c-5\nlast_submitted_round=11\n");
        var progress = ParticipantProgress.Load(path);
        Assert.Equal("c-5", progress.ClientId);
        Assert.Equal(11, progress.LastSubmittedRound);

        progress.MarkSubmitted(12); // sequence 1: the second slot; the old file stays as the fallback
        Assert.Equal(12, ParticipantProgress.Load(path).LastSubmittedRound);
        Assert.Contains("last_submitted_round=11", File.ReadAllText(path), StringComparison.Ordinal);
    }
}
