using System.Globalization;

namespace Engine.Tools.DeviceRun;

/// <summary>
/// The few options the verbs take, read without a parser library: <c>--name value</c> (repeatable),
/// <c>--flag</c>, and positional words. Every option must be consumed, so a typo is an error, not ignored.
/// </summary>
internal sealed class Arguments
{
    private readonly List<string> _words;

    public Arguments(IEnumerable<string> words) => _words = [.. words];

    /// <summary>True (and consumed) when <paramref name="flag"/> is present.</summary>
    public bool Flag(string flag) => _words.Remove(flag);

    /// <summary>Every value given to <paramref name="option"/>, consumed.</summary>
    public List<string> All(string option)
    {
        var values = new List<string>();
        for (int i = _words.IndexOf(option); i >= 0; i = _words.IndexOf(option))
        {
            if (i + 1 >= _words.Count) throw new ArgumentException($"{option} needs a value.");
            values.Add(_words[i + 1]);
            _words.RemoveRange(i, 2);
        }
        return values;
    }

    /// <summary>The last value of <paramref name="option"/>, or null.</summary>
    public string? Value(string option) => All(option) is { Count: > 0 } v ? v[^1] : null;

    /// <summary>The value of <paramref name="option"/> as a positive number, or <paramref name="fallback"/>.</summary>
    public int Number(string option, int fallback)
    {
        if (Value(option) is not { } text) return fallback;
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n < 1)
            throw new ArgumentException($"{option} must be a positive whole number, not '{text}'.");
        return n;
    }

    /// <summary>The positional words left once the options are read; an unknown option is an error.</summary>
    public List<string> Rest()
    {
        if (_words.FirstOrDefault(w => w.StartsWith("--", StringComparison.Ordinal)) is { } unknown)
            throw new ArgumentException($"unknown option {unknown}.");
        return _words;
    }
}
