using Engine.Models.Parity;
using Xunit;

namespace Engine.Tests.Models.DualVit;

/// <summary>
/// Dual-ViT against the reference's float64 goldens: forward and backward of the whole Nano (train and eval),
/// the token-labeling head in eval mode, and the Dual and Merge blocks alone; output, input gradient, every
/// parameter gradient and the BatchNorm running statistics.
/// </summary>
public class DualVitParityTests
{
    private static ParityReport Run(string file, DType dtype) => GoldenFiles.Parity("dualvit/" + file, dtype);

    [Theory]
    [InlineData("op_train.safetensors")]
    [InlineData("op_merge_train.safetensors")]
    [InlineData("nano_train.safetensors")]
    [InlineData("nano_eval.safetensors")]
    [InlineData("tokenlabel_eval.safetensors")]
    public void Float64MatchesTheReferenceTo1e9(string file)
    {
        var report = Run(file, DType.F64);
        Assert.True(report.Passed(1e-9), report.ToString());
    }

    /// <summary>
    /// Configurations the reference goldens do not reach (a pool that drops rows and columns, non-square inputs,
    /// queries resized to 3x3 and 3x2), from the PyTorch twin in float64 (twin/make_twin_goldens.py); the twin
    /// itself reproduces the reference's Nano goldens to 1e-15.
    /// </summary>
    [Theory]
    [InlineData("twin/pool3_44x36_train.safetensors")]
    [InlineData("twin/pool5_64x48_eval.safetensors")]
    public void Float64MatchesThePyTorchTwinOnOtherInputAndPoolSizes(string file)
    {
        var report = Run(file, DType.F64);
        Assert.True(report.Passed(1e-9), report.ToString());
    }

    [Theory]
    [InlineData("op_train.safetensors")]
    [InlineData("nano_train.safetensors")]
    public void Float32MatchesTheReferenceTo1e4(string file)
    {
        var report = Run(file, DType.F32);
        Assert.True(report.Passed(1e-4), report.ToString());
    }
}
