using System.Collections;

namespace Engine.Models.Serialization.Pth;

/// <summary>Finds the state dict in an unpickled checkpoint, following the nesting official checkpoints use.</summary>
internal static class StateDictFinder
{
    /// <summary>
    /// The state dict (its tensors in the file's order) and the keys followed to reach it ("" for the top level).
    /// </summary>
    public static (List<KeyValuePair<string, TensorRef>> State, string Path) Find(object? root, string? entry, string name)
    {
        var node = root;
        var path = new List<string>();
        while (true)
        {
            if (node is not IDictionary dict)
                throw new PthException(name, $"{Where(path)} is {TorchConstructors.Describe(node)}, not a dict of tensors.");
            if (AsStateDict(dict) is { } state && (entry is null || path.Count > 0)) return (state, string.Join("/", path));
            string? next;
            if (entry is not null && path.Count == 0)
            {
                if (!dict.Contains(entry))
                    throw new PthException(name, $"the checkpoint has no entry '{entry}' (it holds: {Keys(dict)}).");
                next = entry;
            }
            else next = PthFile.NestingKeys.FirstOrDefault(k => dict.Contains(k) && dict[k] is IDictionary);
            if (next is null)
                throw new PthException(name, $"{Where(path)} is not a state dict (not every value is a tensor) and holds none of " +
                    $"{string.Join(", ", PthFile.NestingKeys.Select(k => $"'{k}'"))} (it holds: {Keys(dict)}).");
            path.Add(next);
            node = dict[next];
        }
    }

    /// <summary>The dict's entries when every key is a string and every value a tensor; else null.</summary>
    private static List<KeyValuePair<string, TensorRef>>? AsStateDict(IDictionary dict)
    {
        var list = new List<KeyValuePair<string, TensorRef>>(dict.Count);
        foreach (DictionaryEntry e in dict)
        {
            if (e.Key is not string key || e.Value is not TensorRef t) return null;
            list.Add(KeyValuePair.Create(key, t));
        }
        // Razorvine fills dicts as hash tables; the tensors' unpickling order is the file's order.
        list.Sort((a, b) => a.Value.Sequence.CompareTo(b.Value.Sequence));
        return list;
    }

    /// <summary>Removes <c>module.</c> from every key when every key has it (a model saved through DataParallel).</summary>
    public static List<KeyValuePair<string, TensorRef>> StripModulePrefix(List<KeyValuePair<string, TensorRef>> state)
    {
        const string prefix = "module.";
        if (state.Count == 0 || !state.All(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal))) return state;
        return state.Select(kv => KeyValuePair.Create(kv.Key[prefix.Length..], kv.Value)).ToList();
    }

    private static string Where(List<string> path) => path.Count == 0 ? "the checkpoint's top level" : $"entry '{string.Join("/", path)}'";

    private static string Keys(IDictionary dict)
    {
        var keys = dict.Keys.Cast<object>().Select(k => k is string s ? $"'{s}'" : TorchConstructors.Describe(k)).OrderBy(k => k, StringComparer.Ordinal).ToList();
        return keys.Count == 0 ? "nothing" : string.Join(", ", keys.Take(12)) + (keys.Count > 12 ? ", ..." : "");
    }
}
