using System.Globalization;
using System.Text;

namespace Confide.Training.Simulation;

/// <summary>
/// Runs one simulation per (attack, aggregator) pair with otherwise identical options and seed, for robustness tables:
/// rows are attacks, columns are aggregators, cells are final accuracies. The row "none" runs with no malicious clients
/// but the same f, so the robust aggregators are configured alike in every row.
/// </summary>
public static class SimulationSweep
{
    /// <summary>Runs the grid in row order, reporting each cell as it ends. A combination whose options are refused becomes an error cell.</summary>
    public static IReadOnlyList<SweepCell> Run(SimulationOptions baseOptions, IReadOnlyList<string> attacks, IReadOnlyList<string> aggregators, Action<SweepCell>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(baseOptions);
        ArgumentNullException.ThrowIfNull(attacks);
        ArgumentNullException.ThrowIfNull(aggregators);
        if (attacks.Count == 0 || aggregators.Count == 0)
        {
            throw new ArgumentException("A sweep needs at least one attack (or none) and one aggregator.");
        }

        bool anyAttack = attacks.Any(a => !IsNone(a));
        if (anyAttack && baseOptions.Malicious == 0)
        {
            throw new ArgumentException("A sweep over attacks needs --malicious m ≥ 1.");
        }

        int f = baseOptions.Byzantine ?? baseOptions.Malicious;
        var cells = new List<SweepCell>(attacks.Count * aggregators.Count);
        foreach (string attack in attacks)
        {
            foreach (string aggregator in aggregators)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var options = baseOptions with
                {
                    Attack = IsNone(attack) ? null : attack,
                    Malicious = IsNone(attack) ? 0 : baseOptions.Malicious,
                    Byzantine = f,
                    Aggregator = aggregator,
                };
                SweepCell cell;
                try
                {
                    var result = new FederatedSimulation(options).Run(cancellationToken: cancellationToken);
                    cell = new SweepCell(attack, aggregator, result.FinalAccuracy, result.Rounds[^1].BackdoorSuccessRate, null);
                }
                catch (ArgumentException ex)
                {
                    cell = new SweepCell(attack, aggregator, null, null, ex.Message.Split(" (Parameter", 2)[0]);
                }

                cells.Add(cell);
                progress?.Invoke(cell);
            }
        }

        return cells;
    }

    /// <summary>A markdown table: one row per attack, one column per aggregator; "n/a" where a combination could not run.</summary>
    public static string Markdown(IReadOnlyList<SweepCell> cells)
    {
        ArgumentNullException.ThrowIfNull(cells);
        var attacks = cells.Select(c => c.Attack).Distinct(StringComparer.Ordinal).ToList();
        var aggregators = cells.Select(c => c.Aggregator).Distinct(StringComparer.Ordinal).ToList();
        var sb = new StringBuilder();
        sb.Append("| attack | ").Append(string.Join(" | ", aggregators)).Append(" |\n");
        sb.Append("|---|").Append(string.Concat(aggregators.Select(_ => "---:|"))).Append('\n');
        foreach (string attack in attacks)
        {
            sb.Append("| ").Append(attack).Append(" |");
            foreach (string aggregator in aggregators)
            {
                var cell = cells.FirstOrDefault(c => c.Attack == attack && c.Aggregator == aggregator);
                string text = cell?.FinalAccuracy is double acc
                    ? acc.ToString("F3", CultureInfo.InvariantCulture) + (cell.BackdoorSuccessRate is double asr ? $" (ASR {asr.ToString("F2", CultureInfo.InvariantCulture)})" : "")
                    : "n/a";
                sb.Append(' ').Append(text).Append(" |");
            }

            sb.Append('\n');
        }

        var errors = cells.Where(c => c.Error is not null).ToList();
        if (errors.Count > 0)
        {
            sb.Append('\n');
            foreach (var e in errors)
            {
                sb.Append(CultureInfo.InvariantCulture, $"- n/a for {e.Attack} × {e.Aggregator}: {e.Error}\n");
            }
        }

        return sb.ToString();
    }

    /// <summary>CSV with one line per cell.</summary>
    public static string Csv(IReadOnlyList<SweepCell> cells)
    {
        ArgumentNullException.ThrowIfNull(cells);
        var sb = new StringBuilder("attack,aggregator,final_accuracy,backdoor_asr,error\n");
        foreach (var c in cells)
        {
            sb.Append(Quote(c.Attack)).Append(',').Append(Quote(c.Aggregator)).Append(',')
                .Append(c.FinalAccuracy?.ToString("0.######", CultureInfo.InvariantCulture)).Append(',')
                .Append(c.BackdoorSuccessRate?.ToString("0.######", CultureInfo.InvariantCulture)).Append(',')
                .Append(c.Error is null ? "" : Quote(c.Error)).Append('\n');
        }

        return sb.ToString();
    }

    private static bool IsNone(string attack) => string.Equals(attack.Trim(), "none", StringComparison.OrdinalIgnoreCase);

    private static string Quote(string s) => s.Contains(',', StringComparison.Ordinal) || s.Contains('"', StringComparison.Ordinal) ? "\"" + s.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : s;
}
