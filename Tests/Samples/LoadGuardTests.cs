using Engine.Samples.Cli.Bench;
using Xunit;

namespace Engine.Tests.Samples;

/// <summary>The load average every CPU benchmark records: parsing <c>/proc/loadavg</c>, the verdict, the printed line, the JSON fields.</summary>
public class LoadGuardTests
{
    [Theory]
    [InlineData("0.42 0.51 0.60 1/123 4567\n", 0.42)]
    [InlineData("  12.50 9.60 5.43 3/900 77", 12.5)]
    [InlineData("1.00 0 0 1/1 1", 1.0)]
    public void Parse_ReadsTheOneMinuteAverage(string text, double expected) => Assert.Equal(expected, LoadGuard.Parse(text));

    [Theory]
    [InlineData("")]
    [InlineData("abc 1 2")]
    [InlineData("-1 0 0")]
    public void Parse_ReturnsNullOnMalformedText(string text) => Assert.Null(LoadGuard.Parse(text));

    [Theory]
    [InlineData(0.5, 0.9, false)]
    [InlineData(1.0, 1.0, false)] // at the threshold is not above it
    [InlineData(1.2, 0.3, true)]
    [InlineData(0.3, 1.2, true)]  // a run that ends loaded was loaded
    public void Loaded_WhenEitherReadingIsAboveTheThreshold(double before, double after, bool loaded)
    {
        var guard = new LoadGuard(before, after, LoadGuard.DefaultThreshold);
        Assert.Equal(loaded, guard.Loaded);
        Assert.Equal(loaded ? LoadGuard.LoadedExitCode : 0, guard.ExitCode(refuse: true, 0));
        Assert.Equal(0, guard.ExitCode(refuse: false, 0));
        Assert.Contains(loaded ? "LOADED" : "quiet", guard.Line);
    }

    [Fact]
    public void Line_And_Json_CarryBothReadings()
    {
        var guard = new LoadGuard(0.25, 2.5, 1.5);
        Assert.Equal("load average (1 min): before 0.25, after 2.50; LOADED (above 1.50): these figures are not comparable with a quiet machine's", guard.Line);
        var json = new Dictionary<string, object?>();
        guard.AddTo(json);
        Assert.Equal(0.25, json["load_before"]);
        Assert.Equal(2.5, json["load_after"]);
        Assert.Equal(1.5, json["max_load"]);
        Assert.Equal(true, json["loaded"]);
    }

    [Fact]
    public void UnknownLoad_IsNotLoaded_AndSaysUnknown()
    {
        var guard = new LoadGuard(null, null, 1);
        Assert.False(guard.Loaded);
        Assert.Equal("load average (1 min): before unknown, after unknown", guard.Line);
    }

    [Fact]
    public void Read_MatchesProcLoadavgWhereItExists()
    {
        if (!File.Exists("/proc/loadavg")) { Assert.Null(LoadGuard.Read()); return; }
        Assert.True(LoadGuard.Read() is >= 0);
    }
}
