using Engine.Models.Parity;
using Xunit;

namespace Engine.Tests.Models.VHeat;

/// <summary>Forward and backward against the reference's float64 goldens, through the parity runner and its registry.</summary>
public class VHeatGoldenTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private ParityReport Run(string file, DType dtype)
    {
        var report = GoldenFiles.Parity("vheat/" + file, dtype);
        output.WriteLine(report.ToString());
        return report;
    }

    [Theory]
    [InlineData("op_train.safetensors")]
    [InlineData("nano_train.safetensors")]
    [InlineData("nano_eval.safetensors")]
    public void Float64MatchesTheReference(string file)
    {
        var report = Run(file, DType.F64);
        Assert.True(report.Passed(1e-9), report.ToString());
    }

    /// <summary>
    /// Cases in the same format made by the PyTorch twin (twin/make_twin_goldens.py), for what the reference
    /// goldens leave out: post-norm with layer scale, other widths and depths, MLP ratio 3, odd non-square inputs.
    /// </summary>
    [Theory]
    [InlineData("twin/twin_postnorm_train.safetensors")]
    [InlineData("twin/twin_prenorm_eval.safetensors")]
    public void Float64MatchesTheTwinOnOtherConfigurations(string file)
    {
        var report = Run(file, DType.F64);
        Assert.True(report.Passed(1e-9), report.ToString());
    }

    [Theory]
    [InlineData("op_train.safetensors")]
    [InlineData("nano_train.safetensors")]
    public void Float32MatchesTheReference(string file)
    {
        var report = Run(file, DType.F32);
        Assert.True(report.Passed(1e-4), report.ToString());
    }
}
