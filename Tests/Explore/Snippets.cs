using System.Text;
using System.Text.RegularExpressions;

namespace Engine.Tests.Explore;

/// <summary>
/// Keeps the tutorials' code blocks equal to the compiled sample files. A page embeds a region with a marker
/// line <c>&lt;!-- snippet: code/FILE.cs#REGION --&gt;</c> directly followed by a <c>```csharp</c> block; the
/// block must equal the lines between <c>#region REGION</c> and <c>#endregion</c> in FILE, with their common
/// indentation removed. <see cref="Sync"/> rewrites the blocks from the files.
/// </summary>
internal static partial class Snippets
{
    [GeneratedRegex(@"^<!-- snippet: (?<file>[^#\s]+)#(?<region>[\w-]+) -->$")]
    private static partial Regex Marker();

    public sealed record Embedding(string Page, int Line, string File, string Region, string Shown, string? Expected);

    public static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Engine.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new DirectoryNotFoundException("snippets: no Engine.sln above the test binaries.");
    }

    /// <summary>The regions of a sample file, each dedented.</summary>
    public static Dictionary<string, string> Regions(string path)
    {
        var result = new Dictionary<string, string>();
        var lines = File.ReadAllLines(path);
        for (int i = 0; i < lines.Length; i++)
        {
            var t = lines[i].Trim();
            if (!t.StartsWith("#region ", StringComparison.Ordinal)) continue;
            string name = t["#region ".Length..].Trim();
            int end = Array.FindIndex(lines, i + 1, l => l.Trim() == "#endregion");
            if (end < 0) throw new InvalidDataException($"{path}: #region {name} has no #endregion.");
            result.Add(name, Dedent(lines[(i + 1)..end]));
        }
        return result;
    }

    /// <summary>Every marker of every page under docs/tutorials, with the block shown and the region it should equal.</summary>
    public static List<Embedding> Embeddings(string tutorials)
    {
        var found = new List<Embedding>();
        foreach (var page in Directory.GetFiles(tutorials, "*.md").Order())
        {
            var lines = File.ReadAllLines(page);
            for (int i = 0; i < lines.Length; i++)
            {
                var m = Marker().Match(lines[i].Trim());
                if (!m.Success) continue;
                string file = m.Groups["file"].Value, region = m.Groups["region"].Value;
                var (shown, _) = Block(lines, i + 1, page);
                string path = Path.Combine(tutorials, file);
                string? expected = File.Exists(path) && Regions(path).TryGetValue(region, out var r) ? r : null;
                found.Add(new Embedding(Path.GetFileName(page), i + 1, file, region, shown, expected));
            }
        }
        return found;
    }

    /// <summary>Rewrites every embedded block from its region.</summary>
    public static void Sync(string tutorials)
    {
        foreach (var page in Directory.GetFiles(tutorials, "*.md"))
        {
            var lines = File.ReadAllLines(page).ToList();
            for (int i = 0; i < lines.Count; i++)
            {
                var m = Marker().Match(lines[i].Trim());
                if (!m.Success) continue;
                var regions = Regions(Path.Combine(tutorials, m.Groups["file"].Value));
                var (_, end) = Block([.. lines], i + 1, page);
                lines.RemoveRange(i + 1, end - i);
                lines.InsertRange(i + 1, ["```csharp", .. regions[m.Groups["region"].Value].Split('\n'), "```"]);
            }
            File.WriteAllText(page, string.Join("\n", lines) + "\n");
        }
    }

    /// <summary>The fenced block starting at <paramref name="start"/> and the index of its closing fence.</summary>
    private static (string Text, int End) Block(string[] lines, int start, string page)
    {
        if (start >= lines.Length || lines[start].Trim() != "```csharp")
            throw new InvalidDataException($"{page}:{start}: a snippet marker must be followed directly by a ```csharp block.");
        int end = Array.FindIndex(lines, start + 1, l => l.Trim() == "```");
        if (end < 0) throw new InvalidDataException($"{page}:{start}: the code block is not closed.");
        return (string.Join("\n", lines[(start + 1)..end]), end);
    }

    private static string Dedent(string[] lines)
    {
        int indent = lines.Where(l => l.Trim().Length > 0).Select(l => l.Length - l.TrimStart().Length).DefaultIfEmpty(0).Min();
        var sb = new StringBuilder();
        foreach (var l in lines) sb.Append(l.Length >= indent ? l[indent..].TrimEnd() : l.TrimEnd()).Append('\n');
        return sb.ToString().TrimEnd('\n');
    }
}
