namespace Engine.Samples.Cli.Charts;

/// <summary>
/// The font the charts write with. Skia finds system fonts through fontconfig, and when it finds none ScottPlot
/// still draws every line and no text at all, silently. So the charts load DejaVu Sans (Debian's
/// <c>fonts-dejavu-core</c>, which CI installs) from its file when it is there and say so when it is not.
/// </summary>
internal static class ChartFonts
{
    /// <summary>The family the charts use.</summary>
    public const string Family = "DejaVu Sans";

    private static readonly string[] Candidates =
    [
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/TTF/DejaVuSans.ttf",
        "/usr/local/share/fonts/DejaVuSans.ttf",
    ];

    private static readonly Lazy<string?> Loaded = new(Load);

    /// <summary>The font file registered with ScottPlot, or null when none was found (then the system's default is tried).</summary>
    public static string? File => Loaded.Value;

    /// <summary>Applies the font to <paramref name="plot"/>'s title, labels, ticks and legend.</summary>
    public static void Apply(ScottPlot.Plot plot)
    {
        if (File is not null) plot.Font.Set(Family);
    }

    private static string? Load()
    {
        var path = Candidates.FirstOrDefault(System.IO.File.Exists);
        if (path is null)
        {
            Console.Error.WriteLine($"charts: {Family} was not found ({string.Join(", ", Candidates)}); text is drawn with the system's default font, if any (on Debian: apt-get install fonts-dejavu-core).");
            return null;
        }
        ScottPlot.Fonts.AddFontFile(Family, path);
        return path;
    }
}
