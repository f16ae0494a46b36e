using System.Globalization;
using System.Text;

namespace Engine.Autograd;

/// <summary>Makes the tape of a result readable: a text table and a Graphviz DOT graph.</summary>
public static class TapePrinter
{
    /// <summary>
    /// One line per node in forward order: its number, op, input and output shapes, the bytes it saved for
    /// the backward pass (when it was recorded, so the table reads the same after a backward), and the forward
    /// and backward times where they were measured: the nodes' own (host stopwatch) times, or those that
    /// <paramref name="times"/> gives by <see cref="Node.Sequence"/>, such as a GPU profile's device times
    /// (<see cref="Diagnostics.Profiler.NodeTimes"/>).
    /// </summary>
    public static string Format(Tensor root, IReadOnlyDictionary<long, (double Forward, double Backward)>? times = null)
    {
        var nodes = Tape.NodesOf(root);
        var ids = Number(nodes);
        var rows = new List<string[]> { new[] { "#", "op", "inputs", "output", "saved", "fwd ms", "bwd ms" } };
        foreach (var n in nodes)
        {
            var inputs = n.Inputs.Select((e, i) => Layout.Format(n.InputShapes[i]) + Source(e, ids));
            rows.Add([
                ids[n].ToString(CultureInfo.InvariantCulture), n.Op, string.Join(" ", inputs),
                string.Join(" ", n.OutputShapes.Select(s => Layout.Format(s))),
                Bytes(n.SavedBytesAtRecord), Ms(Forward(n, times)), n.BackwardMilliseconds > 0 ? Ms(Backward(n, times)) : "-",
            ]);
        }
        var widths = Enumerable.Range(0, rows[0].Length).Select(c => rows.Max(r => r[c].Length)).ToArray();
        var sb = new StringBuilder();
        foreach (var r in rows)
            sb.AppendLine(string.Join("  ", r.Select((cell, c) => c == 2 || c == 1 ? cell.PadRight(widths[c]) : cell.PadLeft(widths[c]))).TrimEnd());
        return sb.ToString();
    }

    /// <summary>The tape as a Graphviz DOT graph: ops as boxes, leaves as ellipses, edges in the forward direction.</summary>
    public static string ToDot(Tensor root)
    {
        var nodes = Tape.NodesOf(root);
        var ids = Number(nodes);
        var sb = new StringBuilder("digraph tape {\n  rankdir=LR;\n  node [fontname=\"monospace\"];\n");
        var leaves = new Dictionary<Tensor, string>(ReferenceEqualityComparer.Instance);
        foreach (var n in nodes)
        {
            sb.Append(CultureInfo.InvariantCulture, $"  n{ids[n]} [shape=box, label=\"{n.Op}\\n{string.Join(" ", n.OutputShapes.Select(s => Layout.Format(s)))}\"];\n");
            for (int i = 0; i < n.Inputs.Count; i++)
            {
                if (n.Inputs[i] is not { } e) continue;
                string from;
                if (e.Node is { } p) from = $"n{ids[p]}";
                else
                {
                    if (!leaves.TryGetValue(e.Leaf!, out from!))
                    {
                        from = $"leaf{leaves.Count}";
                        leaves[e.Leaf!] = from;
                        sb.Append(CultureInfo.InvariantCulture, $"  {from} [shape=ellipse, label=\"{e.Leaf!.Name ?? "leaf"}\\n{Layout.Format(e.Leaf!.Layout.Shape)}\"];\n");
                    }
                }
                sb.Append(CultureInfo.InvariantCulture, $"  {from} -> n{ids[n]};\n");
            }
        }
        return sb.Append("}\n").ToString();
    }

    /// <summary>Node count, saved bytes (at record time) and time per op kind, largest saved bytes first; times as in <see cref="Format"/>.</summary>
    public static string Summary(Tensor root, IReadOnlyDictionary<long, (double Forward, double Backward)>? times = null)
    {
        var nodes = Tape.NodesOf(root);
        int width = Math.Max(14, nodes.Select(n => n.Op.Length + 2).DefaultIfEmpty(0).Max());
        var sb = new StringBuilder();
        sb.AppendLine($"{"op".PadRight(width)}{"count",6}{"saved",12}{"fwd ms",10}{"bwd ms",10}");
        foreach (var g in nodes.GroupBy(n => n.Op).OrderByDescending(g => g.Sum(n => n.SavedBytesAtRecord)))
            sb.AppendLine(CultureInfo.InvariantCulture, $"{g.Key.PadRight(width)}{g.Count(),6}{Bytes(g.Sum(n => n.SavedBytesAtRecord)),12}{Ms(g.Sum(n => Forward(n, times))),10}{Ms(g.Sum(n => Backward(n, times))),10}");
        return sb.ToString();
    }

    private static double Forward(Node n, IReadOnlyDictionary<long, (double Forward, double Backward)>? times) =>
        times is null ? n.ForwardMilliseconds : times.GetValueOrDefault(n.Sequence).Forward;

    private static double Backward(Node n, IReadOnlyDictionary<long, (double Forward, double Backward)>? times) =>
        times is null ? n.BackwardMilliseconds : times.GetValueOrDefault(n.Sequence).Backward;

    private static Dictionary<Node, int> Number(IReadOnlyList<Node> nodes)
    {
        var ids = new Dictionary<Node, int>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < nodes.Count; i++) ids[nodes[i]] = i;
        return ids;
    }

    private static string Source(Edge? e, Dictionary<Node, int> ids) => e switch
    {
        { Node: { } p } => $"<#{ids[p]}",
        { Leaf: { } l } => $"<{l.Name ?? "leaf"}",
        _ => "",
    };

    private static string Bytes(long b) => b switch
    {
        0 => "0",
        < 1024 => $"{b} B",
        < 1024 * 1024 => $"{b / 1024.0:0.0} KiB",
        _ => $"{b / (1024.0 * 1024):0.0} MiB",
    };

    private static string Ms(double ms) => ms.ToString("0.000", CultureInfo.InvariantCulture);
}
