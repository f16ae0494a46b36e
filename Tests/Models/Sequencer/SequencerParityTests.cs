using Engine.Models.Parity;
using Engine.Tests.Models;
using Xunit;

namespace Engine.Tests.Models.Sequencer;

/// <summary>Forward and backward of the Sequencer pieces against the reference's float64 goldens.</summary>
public class SequencerParityTests
{
    private static ParityReport Run(string file, DType dtype) => GoldenFiles.Parity("sequencer/" + file, dtype);

    [Theory]
    [InlineData("op_bilstm_train.safetensors")]
    [InlineData("op_train.safetensors")]
    [InlineData("nano_train.safetensors")]
    [InlineData("nano_eval.safetensors")]
    public void Float64MatchesTheReference(string file)
    {
        var report = Run(file, DType.F64);
        Assert.True(report.Passed(1e-9), report.ToString());
    }

    [Theory]
    [InlineData("op_bilstm_train.safetensors")]
    [InlineData("op_train.safetensors")]
    [InlineData("nano_train.safetensors")]
    public void Float32MatchesTheReference(string file)
    {
        var report = Run(file, DType.F32);
        Assert.True(report.Passed(1e-4), report.ToString());
    }
}
