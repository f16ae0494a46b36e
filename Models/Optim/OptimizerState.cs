using System.Globalization;
using System.Text.Json;

namespace Engine.Models.Optim;

/// <summary>
/// An optimizer's state in PyTorch's <c>state_dict()</c> structure: <see cref="State"/> maps the index of
/// each parameter (counted across groups, in order) to its named state tensors, and
/// <see cref="ParamGroups"/> holds each group's options with <c>params</c> listing its parameter indices.
/// The tensors are copies owned by this object; <see cref="Dispose"/> frees them.
/// </summary>
public sealed class OptimizerState : IDisposable
{
    /// <summary>The key of a group's parameter indices.</summary>
    public const string ParamsKey = "params";

    /// <summary>Creates a state; <paramref name="kind"/> names the optimizer that produced it (checked on load when not null).</summary>
    public OptimizerState(string? kind, SortedDictionary<int, Dictionary<string, Tensor>> state, List<Dictionary<string, object>> paramGroups)
    {
        Kind = kind;
        State = state;
        ParamGroups = paramGroups;
    }

    /// <summary>The optimizer type that produced this state ("SGD", "AdamW"), or null when unknown.</summary>
    public string? Kind { get; }

    /// <summary>PyTorch's <c>state</c>: parameter index → state name (<c>exp_avg</c>, <c>momentum_buffer</c>, ...) → tensor.</summary>
    public SortedDictionary<int, Dictionary<string, Tensor>> State { get; }

    /// <summary>PyTorch's <c>param_groups</c>: option name → value (double, bool, double[]), and <c>params</c> → int[].</summary>
    public List<Dictionary<string, object>> ParamGroups { get; }

    /// <summary>The param groups as JSON, shaped as PyTorch prints them (<c>[{"lr": 0.1, ..., "params": [0, 1]}]</c>).</summary>
    public string ParamGroupsToJson()
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartArray();
            foreach (var group in ParamGroups)
            {
                w.WriteStartObject();
                foreach (var (key, value) in group)
                {
                    w.WritePropertyName(key);
                    switch (value)
                    {
                        case double d: WriteNumber(w, key, d); break;
                        case bool b: w.WriteBooleanValue(b); break;
                        case int[] ints:
                            w.WriteStartArray();
                            foreach (var i in ints) w.WriteNumberValue(i);
                            w.WriteEndArray();
                            break;
                        case double[] doubles:
                            w.WriteStartArray();
                            foreach (var d in doubles) WriteNumber(w, key, d);
                            w.WriteEndArray();
                            break;
                        default:
                            throw new InvalidOperationException($"optimizer state: option '{key}' has a {value?.GetType().Name ?? "null"} value, which cannot be saved.");
                    }
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void WriteNumber(Utf8JsonWriter w, string key, double d)
    {
        if (!double.IsFinite(d)) throw new InvalidOperationException($"optimizer state: option '{key}' is {d.ToString(CultureInfo.InvariantCulture)}, which JSON cannot hold.");
        w.WriteNumberValue(d);
    }

    /// <summary>Parses param groups written by <see cref="ParamGroupsToJson"/>; numbers come back bit-exact.</summary>
    public static List<Dictionary<string, object>> ParamGroupsFromJson(string json)
    {
        using var doc = JsonDocument.Parse(json);
        if (doc.RootElement.ValueKind != JsonValueKind.Array)
            throw new FormatException($"optimizer state: param_groups must be a JSON array, got {doc.RootElement.ValueKind}.");
        var groups = new List<Dictionary<string, object>>();
        foreach (var g in doc.RootElement.EnumerateArray())
        {
            if (g.ValueKind != JsonValueKind.Object)
                throw new FormatException($"optimizer state: each param group must be a JSON object, got {g.ValueKind}.");
            var group = new Dictionary<string, object>(StringComparer.Ordinal);
            foreach (var p in g.EnumerateObject())
            {
                group[p.Name] = p.Value.ValueKind switch
                {
                    JsonValueKind.Number => p.Value.GetDouble(),
                    JsonValueKind.True => true,
                    JsonValueKind.False => false,
                    JsonValueKind.Array when p.Name == ParamsKey => p.Value.EnumerateArray().Select(e => e.GetInt32()).ToArray(),
                    JsonValueKind.Array => p.Value.EnumerateArray().Select(e => e.GetDouble()).ToArray(),
                    _ => throw new FormatException($"optimizer state: option '{p.Name}' is a JSON {p.Value.ValueKind}; expected a number, a bool or an array."),
                };
            }
            if (!group.ContainsKey(ParamsKey)) throw new FormatException("optimizer state: a param group has no 'params' list.");
            groups.Add(group);
        }
        return groups;
    }

    /// <summary>Disposes every state tensor.</summary>
    public void Dispose()
    {
        foreach (var s in State.Values)
            foreach (var t in s.Values) t.Dispose();
    }
}
