using Confide.Protocol.SecureAggregation;

namespace Confide.Protocol.Tests.SecureAggregation;

/// <summary>
/// An independent statement of when a round must succeed: after each stage s the responders U_s number at least t (and,
/// from ConsistencyCheck on, the signature quorum), and every client whose secret may need reconstructing keeps at least
/// t neighbours in U_s.
/// </summary>
internal sealed class SurvivalOracle(SecAggOptions options, SecAggDropouts dropouts, Func<int, IReadOnlyList<int>> neighbours)
{
    public (SecAggStage? AbortAt, int[] Survivors) Predict()
    {
        int n = options.ClientCount;
        var sets = new HashSet<int>[5];
        HashSet<int> previous = [.. Enumerable.Range(0, n)];
        for (int s = 0; s < 5; s++)
        {
            var stage = (SecAggStage)s;
            sets[s] = [.. previous.Where(u => dropouts.Sends(u, stage))];
            previous = sets[s];
            if (sets[s].Count < options.Threshold || (s >= 3 && sets[s].Count < options.SignatureQuorum))
            {
                return (stage, []);
            }

            IEnumerable<int> owners = s <= 1 ? sets[s]
                : sets[1].Where(u => sets[2].Contains(u) || neighbours(u).Any(sets[2].Contains));
            foreach (int u in owners)
            {
                if (neighbours(u).Count(sets[s].Contains) < options.Threshold)
                {
                    return (stage, []);
                }
            }
        }

        return (null, sets[2].Order().ToArray());
    }
}
