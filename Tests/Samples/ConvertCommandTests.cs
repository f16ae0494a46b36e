using Engine.Models.Serialization;
using Engine.Tests.Models.Pth;
using Xunit;

namespace Engine.Tests.Samples;

/// <summary><c>engine convert</c> turns a PyTorch checkpoint into safetensors holding the same tensors, and fails cleanly.</summary>
public class ConvertCommandTests
{
    [Theory]
    [InlineData("nested_legacy.pth", "nested.model")]
    [InlineData("dtypes.pth", "dtypes")]
    public void ConvertsAPthToSafetensorsWithTheSameTensors(string file, string group)
    {
        var dir = Directory.CreateTempSubdirectory("convert");
        try
        {
            var output = Path.Combine(dir.FullName, "out.safetensors");
            var (code, stdout, stderr) = EngineProcess.Run("convert", PthFiles.Path(file), output);
            Assert.True(code == 0, stderr);
            Assert.Contains("-> " + output, stdout);
            using var scope = Tensor.Scope();
            using var read = SafeTensors.Read(output);
            PthFiles.AssertMatches(group, read.Tensors, ordered: false);
            Assert.Equal("pt", read.Metadata["format"]);
            Assert.Single(Directory.GetFiles(dir.FullName)); // no temporary file left
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void AHostileCheckpointLeavesNoOutput()
    {
        var dir = Directory.CreateTempSubdirectory("convert");
        try
        {
            var output = Path.Combine(dir.FullName, "out.safetensors");
            var (code, _, stderr) = EngineProcess.Run("convert", PthFiles.Path("hostile.pth"), output);
            Assert.Equal(2, code);
            Assert.Contains("'posix.system'", stderr);
            Assert.Empty(Directory.GetFiles(dir.FullName));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
