using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Confide.Aggregation.Optimizers;
using Confide.Parameters;
using Confide.Privacy;
using Confide.Protocol.Rounds;
using Confide.Server.Internal;
using Confide.Updates;
using Microsoft.Data.Sqlite;

namespace Confide.Server;

/// <summary>
/// The server's durable state in a folder: <c>state.db</c> (SQLite, WAL) holds the client registry, hashed enrollment
/// tokens, seen nonces, the rounds (participants, accepted and rejected updates with reasons, stragglers, metrics,
/// timings) and the privacy ledger; <c>models/</c> holds the global model after every completed round as safetensors.
/// Every change is one transaction; a checkpoint file is written and renamed into place before the transaction that
/// names it commits, so a kill at any moment leaves the last completed round intact.
/// </summary>
/// <remarks>Thread-safe: one connection, serialised by a lock (the server's write rate is a few per second per client).</remarks>
public sealed class StateStore : IDisposable
{
    private const int TokenBytes = 32;
    private readonly SqliteConnection _connection;
    private readonly SqliteConnection _nonces;
    private readonly Lock _gate = new();
    private readonly Lock _nonceGate = new();
    private readonly Lock _flushGate = new();
    private readonly Lock _payloadWorkGate = new();
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _spares = new();
    private Task _payloadWork = Task.CompletedTask;
    private int _spareCount;
    private Microsoft.Win32.SafeHandles.SafeFileHandle? _wal;
    private bool _disposed;

    private StateStore(string directory, SqliteConnection connection, SqliteConnection nonces)
    {
        Directory = directory;
        _connection = connection;
        _nonces = nonces;
    }

    /// <summary>Spare payload files kept at most (see <see cref="SpareDirectory"/>): one round of 1,024 clients.</summary>
    internal const int MaxSpareFiles = 1024;

    /// <summary>The state folder.</summary>
    public string Directory { get; }

    /// <summary>Where the model checkpoints live.</summary>
    public string ModelDirectory => Path.Combine(Directory, "models");

    /// <summary>Opens (creating if needed) the store in <paramref name="directory"/>.</summary>
    public static StateStore Open(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        // The folder holds individual updates while a round collects: owner-only access where the OS supports it.
        if (OperatingSystem.IsWindows())
        {
            System.IO.Directory.CreateDirectory(directory);
            System.IO.Directory.CreateDirectory(Path.Combine(directory, "models"));
        }
        else
        {
            const UnixFileMode ownerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
            System.IO.Directory.CreateDirectory(directory, ownerOnly);
            System.IO.Directory.CreateDirectory(Path.Combine(directory, "models"), ownerOnly);
        }
        var builder = new SqliteConnectionStringBuilder { DataSource = Path.Combine(directory, "state.db"), Pooling = false };
        var connection = new SqliteConnection(builder.ToString());
        connection.Open();
        Execute(connection, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000;");
        Execute(connection, """
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS enrollment_tokens (
                token_hash BLOB PRIMARY KEY, created_at TEXT NOT NULL, consumed_at TEXT, consumed_by TEXT);
            CREATE TABLE IF NOT EXISTS clients (
                id TEXT PRIMARY KEY, public_key BLOB NOT NULL UNIQUE, label TEXT NOT NULL, enrolled_at TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS nonces (
                client_id TEXT NOT NULL, nonce TEXT NOT NULL, expires_at INTEGER NOT NULL, PRIMARY KEY (client_id, nonce));
            -- Every signed request deletes the expired nonces; without this index that scanned the whole table, which
            -- holds every request of the last timestamp window (about 60,000 rows at 200 requests a second).
            CREATE INDEX IF NOT EXISTS nonces_by_expiry ON nonces (expires_at);
            CREATE TABLE IF NOT EXISTS rounds (
                round INTEGER PRIMARY KEY, status TEXT NOT NULL, participants TEXT NOT NULL, stragglers TEXT NOT NULL DEFAULT '[]',
                failure_reason TEXT, epsilon REAL, flagged TEXT NOT NULL DEFAULT '[]', started_at TEXT NOT NULL,
                deadline TEXT NOT NULL, completed_at TEXT, checkpoint TEXT);
            CREATE TABLE IF NOT EXISTS submissions (
                round INTEGER NOT NULL, client_id TEXT NOT NULL, status TEXT NOT NULL, reason TEXT, sample_count INTEGER,
                arrival INTEGER NOT NULL, received_at TEXT NOT NULL, payload_file TEXT, PRIMARY KEY (round, client_id));
            CREATE TABLE IF NOT EXISTS metrics (
                round INTEGER NOT NULL, client_id TEXT NOT NULL, samples INTEGER NOT NULL, loss REAL NOT NULL,
                accuracy REAL NOT NULL, reported_at TEXT NOT NULL, PRIMARY KEY (round, client_id));
            CREATE TABLE IF NOT EXISTS ledger (id INTEGER PRIMARY KEY CHECK (id = 1), json TEXT NOT NULL);
            """);
        // Columns added after the first release; a state folder made by an older build gets them here.
        AddColumnIfMissing(connection, "enrollment_tokens", "expires_at", "TEXT");
        AddColumnIfMissing(connection, "rounds", "optimizer", "TEXT");
        AddColumnIfMissing(connection, "rounds", "optimizer_state", "TEXT");
        AddColumnIfMissing(connection, "rounds", "clip_norm", "REAL");
        AddColumnIfMissing(connection, "submissions", "clip_indicator", "INTEGER");
        // Nonces get their own connection with synchronous=NORMAL: in WAL mode that survives a killed process (the
        // case the server is built for) and skips an fsync on every signed request; only an OS crash or power loss
        // could forget the last nonces, which then reopens a replay window of at most the timestamp window.
        var nonces = new SqliteConnection(builder.ToString());
        nonces.Open();
        Execute(nonces, "PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;");
        return new StateStore(directory, connection, nonces);
    }

    /// <summary>How long an enrollment token is valid when no lifetime is given: 24 hours.</summary>
    public static readonly TimeSpan DefaultTokenLifetime = TimeSpan.FromHours(24);

    /// <summary>The longest lifetime a token may be given: 365 days.</summary>
    public static readonly TimeSpan MaxTokenLifetime = TimeSpan.FromDays(365);

    /// <summary>Issues a one-time enrollment token valid for <see cref="DefaultTokenLifetime"/> from <paramref name="now"/>.</summary>
    public string IssueToken(Randomness.IRandomSource random, DateTimeOffset now) => IssueToken(random, now, DefaultTokenLifetime);

    /// <summary>
    /// Issues a one-time enrollment token: 32 random bytes from <paramref name="random"/>, returned once as base64url;
    /// only its SHA-256 is stored, with its expiry time <paramref name="now"/> + <paramref name="lifetime"/>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The lifetime is not in (0, <see cref="MaxTokenLifetime"/>].</exception>
    public string IssueToken(Randomness.IRandomSource random, DateTimeOffset now, TimeSpan lifetime)
    {
        ArgumentNullException.ThrowIfNull(random);
        if (lifetime <= TimeSpan.Zero || lifetime > MaxTokenLifetime)
        {
            throw new ArgumentOutOfRangeException(nameof(lifetime), lifetime, $"An enrollment token's lifetime must be more than 0 and at most {MaxTokenLifetime.TotalDays:F0} days.");
        }

        var bytes = new byte[TokenBytes];
        random.NextBytes(bytes);
        string token = Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        CryptographicOperations.ZeroMemory(bytes);
        lock (_gate)
        {
            using var command = Command("INSERT INTO enrollment_tokens (token_hash, created_at, expires_at) VALUES ($h, $t, $e)");
            command.Parameters.AddWithValue("$h", HashToken(token));
            command.Parameters.AddWithValue("$t", Format(now));
            command.Parameters.AddWithValue("$e", Format(now + lifetime));
            command.ExecuteNonQuery();
        }

        return token;
    }

    /// <summary>
    /// Consumes <paramref name="token"/> and registers <paramref name="publicKey"/> under a new client id, in one
    /// transaction. Refuses an unknown, already consumed or expired token (expired when <paramref name="now"/> is at or
    /// after its expiry; tokens stored by a build without expiry have none) and an already enrolled key.
    /// </summary>
    /// <exception cref="EnrollmentException">The enrollment was refused; the message says why.</exception>
    public string Enroll(string token, ReadOnlySpan<byte> publicKey, string label, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(token);
        ArgumentNullException.ThrowIfNull(label);
        byte[] key = publicKey.ToArray();
        lock (_gate)
        {
            using var tx = _connection.BeginTransaction();
            using (var find = Command("SELECT consumed_at, expires_at FROM enrollment_tokens WHERE token_hash = $h", tx))
            {
                find.Parameters.AddWithValue("$h", HashToken(token));
                using var row = find.ExecuteReader();
                if (!row.Read())
                {
                    throw new EnrollmentException("the enrollment token is not known to this server");
                }

                if (!row.IsDBNull(0))
                {
                    throw new EnrollmentException("the enrollment token has already been used");
                }

                if (!row.IsDBNull(1) && Parse(row.GetString(1)) is var expires && now >= expires)
                {
                    throw new EnrollmentException($"the enrollment token expired at {expires.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC; ask the operator for a new one");
                }
            }

            using (var dup = Command("SELECT id FROM clients WHERE public_key = $k", tx))
            {
                dup.Parameters.AddWithValue("$k", key);
                if (dup.ExecuteScalar() is string existing)
                {
                    throw new EnrollmentException($"this public key is already enrolled (as client {existing})");
                }
            }

            string id = "c-" + Convert.ToHexStringLower(SHA256.HashData(key).AsSpan(0, 8));
            using (var insert = Command("INSERT INTO clients (id, public_key, label, enrolled_at) VALUES ($id, $k, $l, $t)", tx))
            {
                insert.Parameters.AddWithValue("$id", id);
                insert.Parameters.AddWithValue("$k", key);
                insert.Parameters.AddWithValue("$l", label);
                insert.Parameters.AddWithValue("$t", Format(now));
                insert.ExecuteNonQuery();
            }

            using (var consume = Command("UPDATE enrollment_tokens SET consumed_at = $t, consumed_by = $id WHERE token_hash = $h", tx))
            {
                consume.Parameters.AddWithValue("$t", Format(now));
                consume.Parameters.AddWithValue("$id", id);
                consume.Parameters.AddWithValue("$h", HashToken(token));
                consume.ExecuteNonQuery();
            }

            tx.Commit();
            return id;
        }
    }

    /// <summary>The enrolled public key of <paramref name="clientId"/>, or null for an unknown client.</summary>
    public byte[]? FindClientKey(string clientId)
    {
        lock (_gate)
        {
            using var command = Command("SELECT public_key FROM clients WHERE id = $id");
            command.Parameters.AddWithValue("$id", clientId);
            return command.ExecuteScalar() as byte[];
        }
    }

    /// <summary>How many completed rounds failed (ended without aggregating).</summary>
    public long CountFailedRounds()
    {
        lock (_gate)
        {
            using var command = Command("SELECT COUNT(*) FROM rounds WHERE status = 'failed'");
            return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
        }
    }

    /// <summary>How many clients are enrolled.</summary>
    public int CountClients()
    {
        lock (_gate)
        {
            using var command = Command("SELECT COUNT(*) FROM clients");
            return Convert.ToInt32(command.ExecuteScalar(), CultureInfo.InvariantCulture);
        }
    }

    /// <summary>
    /// Records a nonce as used until <paramref name="expiresAtUnixMs"/>; returns false when this client already used it
    /// (a replay). Expired nonces are pruned in the same transaction; requests older than the window are refused
    /// before this is called, so a pruned nonce can never be accepted again.
    /// </summary>
    public bool TryUseNonce(string clientId, string nonce, long nowUnixMs, long expiresAtUnixMs)
    {
        lock (_nonceGate)
        {
            using var tx = _nonces.BeginTransaction();
            using (var prune = _nonces.CreateCommand())
            {
                prune.Transaction = tx;
                prune.CommandText = "DELETE FROM nonces WHERE expires_at < $now";
                prune.Parameters.AddWithValue("$now", nowUnixMs);
                prune.ExecuteNonQuery();
            }

            using var insert = _nonces.CreateCommand();
            insert.Transaction = tx;
            insert.CommandText = "INSERT OR IGNORE INTO nonces (client_id, nonce, expires_at) VALUES ($c, $n, $e)";
            insert.Parameters.AddWithValue("$c", clientId);
            insert.Parameters.AddWithValue("$n", nonce);
            insert.Parameters.AddWithValue("$e", expiresAtUnixMs);
            bool fresh = insert.ExecuteNonQuery() == 1;
            tx.Commit();
            return fresh;
        }
    }

    /// <summary>
    /// The initial model: saved on the first start (with its layout fingerprint in <c>meta</c>) and loaded afterwards.
    /// Refuses a different layout than the stored one, so a restarted server cannot silently switch models.
    /// </summary>
    public ModelParameters LoadOrSaveInitialModel(ModelParameters initial)
    {
        ArgumentNullException.ThrowIfNull(initial);
        string path = Path.Combine(ModelDirectory, "initial.safetensors");
        lock (_gate)
        {
            string? stored = GetMeta("layout_fingerprint");
            if (stored is null)
            {
                WriteFileDurably(path, Safetensors.Write(initial));
                SetMeta("layout_fingerprint", initial.Layout.FingerprintHex);
                return initial.Clone();
            }

            if (stored != initial.Layout.FingerprintHex)
            {
                throw new InvalidDataException(
                    $"The state folder holds a model with layout {stored[..16]}…, but the server was started with layout {initial.Layout.FingerprintHex[..16]}…; use a fresh state folder for a new model.");
            }

            using var file = File.OpenRead(path);
            return Safetensors.Read(file, initial.Layout).Parameters;
        }
    }

    /// <summary>The number of completed rounds and the model after the last of them (or null when none completed).</summary>
    public (long CompletedRounds, ModelParameters? Model) LoadLastCheckpoint(ParameterLayout layout)
    {
        lock (_gate)
        {
            using var command = Command("SELECT round, checkpoint FROM rounds WHERE completed_at IS NOT NULL ORDER BY round DESC LIMIT 1");
            using var reader = command.ExecuteReader();
            if (!reader.Read())
            {
                return (0, null);
            }

            long round = reader.GetInt64(0);
            string checkpoint = reader.GetString(1);
            using var file = File.OpenRead(Path.Combine(ModelDirectory, checkpoint));
            return (round + 1, Safetensors.Read(file, layout).Parameters);
        }
    }

    /// <summary>The stored privacy ledger, or null when none was saved yet.</summary>
    public PrivacyLedger? LoadLedger()
    {
        lock (_gate)
        {
            using var command = Command("SELECT json FROM ledger WHERE id = 1");
            if (command.ExecuteScalar() is not string json)
            {
                return null;
            }

            using var stream = new MemoryStream(Encoding.UTF8.GetBytes(json));
            return PrivacyLedger.Load(stream);
        }
    }

    /// <summary>Saves the ledger (used at the first start so its budget is fixed with the state).</summary>
    public void SaveLedger(PrivacyLedger ledger)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        lock (_gate)
        {
            using var tx = _connection.BeginTransaction();
            WriteLedger(ledger, tx);
            tx.Commit();
        }
    }

    /// <summary>Records a round that started collecting.</summary>
    public void BeginRound(RoundTicket ticket)
    {
        ArgumentNullException.ThrowIfNull(ticket);
        lock (_gate)
        {
            using var command = Command(
                "INSERT OR REPLACE INTO rounds (round, status, participants, started_at, deadline) VALUES ($r, 'collecting', $p, $s, $d)");
            command.Parameters.AddWithValue("$r", ticket.Round);
            command.Parameters.AddWithValue("$p", JsonSerializer.Serialize(ticket.Participants.ToArray(), StoreJsonContext.Default.StringArray));
            command.Parameters.AddWithValue("$s", Format(ticket.StartedAt));
            command.Parameters.AddWithValue("$d", Format(ticket.Deadline));
            command.ExecuteNonQuery();
        }
    }

    /// <summary>
    /// Writes an update's payload durably under <c>pending/</c> (a unique file name, flushed to disk) before the
    /// submission is recorded, so the slow part of persisting an update happens outside the round lock. Returns the
    /// file name to pass to <see cref="RecordSubmission"/>, or to <see cref="DeletePendingUpdate"/> if it is refused.
    /// </summary>
    public string WritePendingUpdate(long round, byte[] payload)
    {
        ArgumentNullException.ThrowIfNull(payload);
        return WritePendingUpdate(round, payload.AsSpan());
    }

    /// <summary>Writes an update's payload durably under <c>pending/</c>; see <see cref="WritePendingUpdate(long, byte[])"/>.</summary>
    public string WritePendingUpdate(long round, ReadOnlySpan<byte> payload)
    {
        string name = $"round-{round:D6}-{Guid.NewGuid():N}.safetensors";
        System.IO.Directory.CreateDirectory(PendingDirectory);
        string path = Path.Combine(PendingDirectory, name);
        TakeSpareAs(path + ".tmp"); // WriteFileDurably's temporary file: an existing file is truncated and rewritten
        WriteFileDurably(path, payload, direct: true);
        return name;
    }

    /// <summary>
    /// Where emptied payload files wait to be written again (see <see cref="CompleteRound"/>): rewriting an existing
    /// file spares the file system an inode allocation per update and a release per aggregated update, which on ext4
    /// cost about 6 % of the server's CPU at 100 × 1M (its search among recently released inodes).
    /// </summary>
    internal string SpareDirectory => Path.Combine(PendingDirectory, "spare");

    /// <summary>Moves an empty spare file to <paramref name="path"/>, if there is one; otherwise the writer creates the file.</summary>
    private void TakeSpareAs(string path)
    {
        while (_spares.TryDequeue(out string? spare))
        {
            Interlocked.Decrement(ref _spareCount);
            try
            {
                File.Move(spare, path);
                return;
            }
            catch (IOException)
            {
                // Gone or in the way: try the next one, or let the writer create the file.
            }
        }
    }

    /// <summary>
    /// Empties an aggregated payload file (its blocks are released, so the update is gone as surely as by deleting it)
    /// and keeps it as a spare for a later upload; deletes it instead when enough spares are kept. A file that cannot be
    /// handled now stays an orphan for the next start.
    /// </summary>
    private void RecyclePendingQuietly(List<string> files)
    {
        foreach (string file in files)
        {
            string path = Path.Combine(PendingDirectory, Path.GetFileName(file));
            try
            {
                if (Interlocked.Increment(ref _spareCount) > MaxSpareFiles)
                {
                    Interlocked.Decrement(ref _spareCount);
                    File.Delete(path);
                    continue;
                }

                try
                {
                    using (var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Write, FileShare.None))
                    {
                        RandomAccess.SetLength(handle, 0);
                    }

                    System.IO.Directory.CreateDirectory(SpareDirectory);
                    string spare = Path.Combine(SpareDirectory, Guid.NewGuid().ToString("N"));
                    File.Move(path, spare);
                    _spares.Enqueue(spare);
                }
                catch
                {
                    Interlocked.Decrement(ref _spareCount);
                    throw;
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Nothing refers to the file any more: DeleteOrphanPendingUpdates removes it at the next start.
            }
        }
    }

    /// <summary>Deletes a pending payload that was not accepted.</summary>
    public void DeletePendingUpdate(string fileName)
    {
        ArgumentException.ThrowIfNullOrEmpty(fileName);
        File.Delete(Path.Combine(PendingDirectory, Path.GetFileName(fileName)));
    }

    /// <summary>
    /// Deletes pending payload files no submission row names (left by a kill between writing the file and recording
    /// the submission, whose client got no answer and will resubmit). Returns how many were deleted.
    /// </summary>
    public int DeleteOrphanPendingUpdates()
    {
        if (!System.IO.Directory.Exists(PendingDirectory))
        {
            return 0;
        }

        var named = new HashSet<string>(StringComparer.Ordinal);
        lock (_gate)
        {
            using var command = Command("SELECT payload_file FROM submissions WHERE payload_file IS NOT NULL");
            using var rows = command.ExecuteReader();
            while (rows.Read())
            {
                named.Add(rows.GetString(0));
            }
        }

        int deleted = 0;
        foreach (string path in System.IO.Directory.EnumerateFiles(PendingDirectory))
        {
            if (!named.Contains(Path.GetFileName(path)))
            {
                File.Delete(path);
                deleted++;
            }
        }

        DeleteSpares();
        return deleted;
    }

    /// <summary>Waits for the background work on completed rounds' payloads (for tests).</summary>
    internal void WaitForBackgroundWork()
    {
        Task work;
        lock (_payloadWorkGate)
        {
            work = _payloadWork;
        }

        work.Wait();
    }

    /// <summary>Deletes the spare files (empty; counted nowhere) left by an earlier run or kept by this one.</summary>
    private void DeleteSpares()
    {
        while (_spares.TryDequeue(out _))
        {
            Interlocked.Decrement(ref _spareCount);
        }

        if (System.IO.Directory.Exists(SpareDirectory))
        {
            foreach (string spare in System.IO.Directory.EnumerateFiles(SpareDirectory))
            {
                File.Delete(spare);
            }
        }
    }

    /// <summary>Where payloads of the collecting round wait.</summary>
    public string PendingDirectory => Path.Combine(Directory, "pending");

    /// <summary>
    /// Records one submission of the collecting round: accepted (naming its pending payload file, so a restart can
    /// restore the round) or rejected with the reason. With <paramref name="durable"/> false the commit is not flushed to
    /// disk (it survives a killed process, as the WAL is written, but not yet a power loss) and the caller must call
    /// <see cref="Flush"/> before it acknowledges anything that depends on the row; many such rows then share one flush
    /// (group commit). <paramref name="clipIndicator"/> is an accepted update's adaptive-clipping bit (0 or 1), kept in
    /// the same row so a restarted server restores the round with it (<see cref="LoadClipIndicators"/>).
    /// </summary>
    public void RecordSubmission(long round, string clientId, bool accepted, string? reason, long? sampleCount, int arrival, string? payloadFile, DateTimeOffset now, bool durable = true, long? clipIndicator = null)
    {
        lock (_gate)
        {
            if (!durable)
            {
                Execute(_connection, "PRAGMA synchronous=NORMAL;");
            }

            try
            {
                InsertSubmission(round, clientId, accepted, reason, sampleCount, arrival, payloadFile, now, clipIndicator);
            }
            finally
            {
                if (!durable)
                {
                    Execute(_connection, "PRAGMA synchronous=FULL;");
                }
            }
        }
    }

    /// <summary>
    /// Makes every commit so far durable by flushing the write-ahead log file to disk, without taking the store's lock:
    /// commits made without a flush (see <see cref="RecordSubmission"/>)
    /// are complete in the log, and the flush makes them survive a power loss as a synchronous commit would. Commits
    /// that SQLite has already checkpointed into the database file were flushed there by the checkpoint.
    /// </summary>
    public void Flush()
    {
        lock (_flushGate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_wal is null)
            {
                string path = Path.Combine(Directory, "state.db-wal");
                if (!File.Exists(path))
                {
                    // No log yet means no commit is waiting in one.
                    return;
                }

                _wal = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
            }

            RandomAccess.FlushToDisk(_wal);
        }
    }

    private void InsertSubmission(long round, string clientId, bool accepted, string? reason, long? sampleCount, int arrival, string? payloadFile, DateTimeOffset now, long? clipIndicator)
    {
        using var command = Command("""
            INSERT INTO submissions (round, client_id, status, reason, sample_count, arrival, received_at, payload_file, clip_indicator)
            VALUES ($r, $c, $s, $reason, $n, $a, $t, $p, $b)
            """);
        command.Parameters.AddWithValue("$b", (object?)clipIndicator ?? DBNull.Value);
        command.Parameters.AddWithValue("$r", round);
        command.Parameters.AddWithValue("$c", clientId);
        command.Parameters.AddWithValue("$s", accepted ? "accepted" : "rejected");
        command.Parameters.AddWithValue("$reason", (object?)reason ?? DBNull.Value);
        command.Parameters.AddWithValue("$n", (object?)sampleCount ?? DBNull.Value);
        command.Parameters.AddWithValue("$a", arrival);
        command.Parameters.AddWithValue("$t", Format(now));
        command.Parameters.AddWithValue("$p", (object?)payloadFile ?? DBNull.Value);
        command.ExecuteNonQuery();
    }

    /// <summary>
    /// Records a completed round: writes the checkpoint file (when the model moved), then in one transaction marks the
    /// round, records stragglers and flags, and saves the ledger; after the commit the round's pending payloads are
    /// emptied (they are no longer needed once aggregated, and keeping them would keep individual updates around) and
    /// kept as spare files for later uploads (<see cref="SpareDirectory"/>). This runs in the background, so the next
    /// round does not wait for it (deleting took about 0.75 ms per 4 MB file on ext4, 75 ms for 100 clients); once the
    /// commit has cleared their rows the files are orphans, which <see cref="DeleteOrphanPendingUpdates"/> removes at
    /// the next start should the process stop first, and <see cref="Dispose"/> waits for it. With
    /// <paramref name="serverState"/>, the server optimiser's state is written next to the checkpoint (as
    /// <c>optimizer-round-NNNNNN.safetensors</c>, only the latest is kept) and the adaptive clip norm is stored in the
    /// round's row, in the same transaction, so <see cref="LoadServerState"/> returns them after a restart.
    /// <paramref name="encodedModel"/> is the safetensors encoding of the round's model when the caller has it already
    /// (it is not modified).
    /// </summary>
    public void CompleteRound(RoundResult result, PrivacyLedger? ledger, RoundServerState? serverState, byte[]? encodedModel = null)
    {
        ArgumentNullException.ThrowIfNull(result);
        string checkpoint = $"round-{result.Round:D6}.safetensors";
        WriteFileDurably(Path.Combine(ModelDirectory, checkpoint), encodedModel ?? Safetensors.Write(result.Model));
        string? optimizerFile = null;
        if (serverState is not null && serverState.Optimizer.Vectors.Count > 0)
        {
            optimizerFile = $"optimizer-round-{result.Round:D6}.safetensors";
            WriteFileDurably(Path.Combine(ModelDirectory, optimizerFile), EncodeOptimizerState(serverState.Optimizer));
        }

        lock (_gate)
        {
            using var tx = _connection.BeginTransaction();
            using (var update = Command("""
                UPDATE rounds SET status = $s, stragglers = $st, failure_reason = $f, epsilon = $e, flagged = $fl,
                completed_at = $c, checkpoint = $cp, optimizer = $o, optimizer_state = $os, clip_norm = $cn WHERE round = $r
                """, tx))
            {
                update.Parameters.AddWithValue("$o", (object?)serverState?.Optimizer.Optimizer ?? DBNull.Value);
                update.Parameters.AddWithValue("$os", (object?)optimizerFile ?? DBNull.Value);
                update.Parameters.AddWithValue("$cn", (object?)serverState?.ClipNorm ?? DBNull.Value);
                update.Parameters.AddWithValue("$s", result.Aggregated ? "aggregated" : "failed");
                update.Parameters.AddWithValue("$st", JsonSerializer.Serialize(result.Stragglers.ToArray(), StoreJsonContext.Default.StringArray));
                update.Parameters.AddWithValue("$f", (object?)result.FailureReason ?? DBNull.Value);
                update.Parameters.AddWithValue("$e", result.Privacy is { } p ? p.Epsilon : DBNull.Value);
                update.Parameters.AddWithValue("$fl", JsonSerializer.Serialize(result.Flagged.Select(f => new[] { f.ClientId, f.Reason }).ToArray(), StoreJsonContext.Default.StringArrayArray));
                update.Parameters.AddWithValue("$c", Format(result.CompletedAt));
                update.Parameters.AddWithValue("$cp", checkpoint);
                update.Parameters.AddWithValue("$r", result.Round);
                if (update.ExecuteNonQuery() != 1)
                {
                    throw new InvalidOperationException($"Round {result.Round} was never recorded as started.");
                }
            }

            var files = new List<string>();
            using (var list = Command("SELECT payload_file FROM submissions WHERE round = $r AND payload_file IS NOT NULL", tx))
            {
                list.Parameters.AddWithValue("$r", result.Round);
                using var rows = list.ExecuteReader();
                while (rows.Read())
                {
                    files.Add(rows.GetString(0));
                }
            }

            using (var drop = Command("UPDATE submissions SET payload_file = NULL WHERE round = $r", tx))
            {
                drop.Parameters.AddWithValue("$r", result.Round);
                drop.ExecuteNonQuery();
            }

            if (ledger is not null)
            {
                WriteLedger(ledger, tx);
            }

            tx.Commit();
            if (files.Count > 0)
            {
                lock (_payloadWorkGate)
                {
                    _payloadWork = _payloadWork.ContinueWith(_ => RecyclePendingQuietly(files), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
                }
            }

            if (serverState is not null)
            {
                // Only the latest optimiser state is needed to resume; older ones would pile up at 1–2 models per round.
                foreach (string old in System.IO.Directory.EnumerateFiles(ModelDirectory, "optimizer-round-*.safetensors"))
                {
                    if (Path.GetFileName(old) != optimizerFile)
                    {
                        File.Delete(old);
                    }
                }
            }
        }
    }

    /// <summary>
    /// The server state saved with the last completed round (see <see cref="CompleteRound"/>), or null when no round
    /// completed or the last one was saved without it (by a build that did not save it).
    /// </summary>
    public RoundServerState? LoadServerState()
    {
        lock (_gate)
        {
            using var command = Command("SELECT optimizer, optimizer_state, clip_norm FROM rounds WHERE completed_at IS NOT NULL ORDER BY round DESC LIMIT 1");
            using var reader = command.ExecuteReader();
            if (!reader.Read() || reader.IsDBNull(0))
            {
                return null;
            }

            string optimizer = reader.GetString(0);
            var state = ServerOptimizerState.Empty(optimizer);
            if (!reader.IsDBNull(1))
            {
                using var file = File.OpenRead(Path.Combine(ModelDirectory, Path.GetFileName(reader.GetString(1))));
                var content = Safetensors.Read(file);
                if (!content.Metadata.TryGetValue("optimizer", out string? saved) || saved != optimizer)
                {
                    throw new InvalidDataException($"The optimiser state file {reader.GetString(1)} was not saved by '{optimizer}'.");
                }

                state = new ServerOptimizerState(optimizer, content.Parameters.ToDictionary().ToDictionary(kv => kv.Key, kv => kv.Value.Values, StringComparer.Ordinal));
            }

            return new RoundServerState(state, reader.IsDBNull(2) ? null : reader.GetDouble(2));
        }
    }

    private static byte[] EncodeOptimizerState(ServerOptimizerState state)
    {
        var layout = ParameterLayout.Create(state.Vectors.Keys.Select(name => (name, new[] { state.Length })));
        var values = new float[layout.TotalLength];
        foreach (var spec in layout.Tensors)
        {
            state.Vectors[spec.Name].CopyTo(values.AsSpan(spec.Offset, spec.Length));
        }

        return Safetensors.Write(new ModelParameters(layout, values), new Dictionary<string, string> { ["optimizer"] = state.Optimizer });
    }

    /// <summary>
    /// The round that was collecting when the server stopped, with its accepted updates (decoded against
    /// <paramref name="layout"/>) and rejections, or null.
    /// </summary>
    public (RoundTicket Ticket, List<ClientUpdate> Accepted, List<RejectedUpdate> Rejected)? LoadCollectingRound(ParameterLayout layout)
    {
        lock (_gate)
        {
            RoundTicket ticket;
            using (var command = Command("SELECT round, participants, started_at, deadline FROM rounds WHERE completed_at IS NULL ORDER BY round DESC LIMIT 1"))
            using (var reader = command.ExecuteReader())
            {
                if (!reader.Read())
                {
                    return null;
                }

                ticket = new RoundTicket(
                    reader.GetInt64(0),
                    JsonSerializer.Deserialize(reader.GetString(1), StoreJsonContext.Default.StringArray) ?? [],
                    Parse(reader.GetString(2)),
                    Parse(reader.GetString(3)));
            }

            var accepted = new List<ClientUpdate>();
            var rejected = new List<RejectedUpdate>();
            using var subs = Command("SELECT client_id, status, reason, sample_count, payload_file, arrival FROM submissions WHERE round = $r ORDER BY arrival");
            subs.Parameters.AddWithValue("$r", ticket.Round);
            using var rows = subs.ExecuteReader();
            while (rows.Read())
            {
                string clientId = rows.GetString(0);
                if (rows.GetString(1) == "accepted")
                {
                    using var file = File.OpenRead(Path.Combine(PendingDirectory, Path.GetFileName(rows.GetString(4))));
                    var delta = Safetensors.Read(file, layout).Parameters;
                    accepted.Add(new ClientUpdate(clientId, delta, rows.GetInt64(3)));
                }
                else
                {
                    rejected.Add(new RejectedUpdate(clientId, rows.GetString(2), rows.GetInt32(5)));
                }
            }

            return (ticket, accepted, rejected);
        }
    }

    /// <summary>The clip indicators recorded with the accepted updates of <paramref name="round"/>, by client id.</summary>
    public IReadOnlyDictionary<string, long> LoadClipIndicators(long round)
    {
        lock (_gate)
        {
            var indicators = new Dictionary<string, long>(StringComparer.Ordinal);
            using var command = Command("SELECT client_id, clip_indicator FROM submissions WHERE round = $r AND status = 'accepted' AND clip_indicator IS NOT NULL");
            command.Parameters.AddWithValue("$r", round);
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                indicators[reader.GetString(0)] = reader.GetInt64(1);
            }

            return indicators;
        }
    }

    /// <summary>Records a client's evaluation report (one per client and round; a repeat replaces it).</summary>
    public void RecordMetrics(long round, string clientId, long samples, double loss, double accuracy, DateTimeOffset now)
    {
        lock (_gate)
        {
            using var command = Command("""
                INSERT OR REPLACE INTO metrics (round, client_id, samples, loss, accuracy, reported_at) VALUES ($r, $c, $n, $l, $a, $t)
                """);
            command.Parameters.AddWithValue("$r", round);
            command.Parameters.AddWithValue("$c", clientId);
            command.Parameters.AddWithValue("$n", samples);
            command.Parameters.AddWithValue("$l", loss);
            command.Parameters.AddWithValue("$a", accuracy);
            command.Parameters.AddWithValue("$t", Format(now));
            command.ExecuteNonQuery();
        }
    }

    /// <summary>Every recorded round, oldest first.</summary>
    public IReadOnlyList<StoredRound> ListRounds()
    {
        lock (_gate)
        {
            var rounds = new List<StoredRound>();
            using (var command = Command("SELECT round, status, participants, stragglers, failure_reason, epsilon, started_at, completed_at FROM rounds ORDER BY round"))
            using (var reader = command.ExecuteReader())
            {
                while (reader.Read())
                {
                    rounds.Add(new StoredRound(
                        reader.GetInt64(0),
                        reader.GetString(1),
                        JsonSerializer.Deserialize(reader.GetString(2), StoreJsonContext.Default.StringArray) ?? [],
                        JsonSerializer.Deserialize(reader.GetString(3), StoreJsonContext.Default.StringArray) ?? [],
                        [],
                        [],
                        reader.IsDBNull(4) ? null : reader.GetString(4),
                        reader.IsDBNull(5) ? null : reader.GetDouble(5),
                        Parse(reader.GetString(6)),
                        reader.IsDBNull(7) ? null : Parse(reader.GetString(7))));
                }
            }

            for (int i = 0; i < rounds.Count; i++)
            {
                var accepted = new List<string>();
                var rejected = new List<(string, string)>();
                using var subs = Command("SELECT client_id, status, reason FROM submissions WHERE round = $r ORDER BY arrival");
                subs.Parameters.AddWithValue("$r", rounds[i].Round);
                using var rows = subs.ExecuteReader();
                while (rows.Read())
                {
                    if (rows.GetString(1) == "accepted")
                    {
                        accepted.Add(rows.GetString(0));
                    }
                    else
                    {
                        rejected.Add((rows.GetString(0), rows.GetString(2)));
                    }
                }

                rounds[i] = rounds[i] with { Accepted = accepted, Rejected = rejected };
            }

            return rounds;
        }
    }

    /// <summary>True when the database answers a trivial query (the health check); false when it is closed or failing.</summary>
    public bool Ping()
    {
        try
        {
            lock (_gate)
            {
                using var command = Command("SELECT 1");
                return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture) == 1;
            }
        }
        catch (Exception ex) when (ex is SqliteException or InvalidOperationException or ObjectDisposedException)
        {
            return false;
        }
    }

    /// <summary>Closes the database.</summary>
    public void Dispose()
    {
        WaitForBackgroundWork(); // the last round's payloads are gone before the store is closed
        try
        {
            DeleteSpares();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Empty files: the next start deletes them.
        }

        lock (_flushGate)
        {
            _disposed = true;
            _wal?.Dispose();
        }

        lock (_nonceGate)
        {
            _nonces.Dispose();
        }

        lock (_gate)
        {
            _connection.Dispose();
        }
    }

    private static byte[] HashToken(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));

    private static string Format(DateTimeOffset time) => time.UtcDateTime.ToString("O", CultureInfo.InvariantCulture);

    private static DateTimeOffset Parse(string text) => DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);

    private static void AddColumnIfMissing(SqliteConnection connection, string table, string column, string type)
    {
        using var info = connection.CreateCommand();
        info.CommandText = $"SELECT COUNT(*) FROM pragma_table_info('{table}') WHERE name = '{column}'";
        if (Convert.ToInt64(info.ExecuteScalar(), CultureInfo.InvariantCulture) == 0)
        {
            Execute(connection, $"ALTER TABLE {table} ADD COLUMN {column} {type}");
        }
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    /// <summary>
    /// Writes to a temporary file, flushes it to disk, then renames it over <paramref name="path"/>. With
    /// <paramref name="direct"/>, a block-aligned <paramref name="content"/> is written with direct I/O, bypassing the
    /// page cache (see <see cref="Internal.DirectIo"/>); it is flushed to disk all the same.
    /// </summary>
    private static void WriteFileDurably(string path, ReadOnlySpan<byte> content, bool direct = false)
    {
        string temp = path + ".tmp";
        if (!direct || !Internal.DirectIo.TryWriteFile(temp, content))
        {
            using var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None);
            stream.Write(content);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temp, path, overwrite: true);
    }

    private SqliteCommand Command(string sql, SqliteTransaction? tx = null)
    {
        var command = _connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = tx;
        return command;
    }

    private string? GetMeta(string key)
    {
        using var command = Command("SELECT value FROM meta WHERE key = $k");
        command.Parameters.AddWithValue("$k", key);
        return command.ExecuteScalar() as string;
    }

    private void SetMeta(string key, string value)
    {
        using var command = Command("INSERT OR REPLACE INTO meta (key, value) VALUES ($k, $v)");
        command.Parameters.AddWithValue("$k", key);
        command.Parameters.AddWithValue("$v", value);
        command.ExecuteNonQuery();
    }

    private void WriteLedger(PrivacyLedger ledger, SqliteTransaction tx)
    {
        using var stream = new MemoryStream();
        ledger.Save(stream);
        using var command = Command("INSERT OR REPLACE INTO ledger (id, json) VALUES (1, $j)", tx);
        command.Parameters.AddWithValue("$j", Encoding.UTF8.GetString(stream.ToArray()));
        command.ExecuteNonQuery();
    }
}
