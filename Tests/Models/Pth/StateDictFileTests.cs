using Engine.Models.Serialization;
using Xunit;

namespace Engine.Tests.Models.Pth;

/// <summary><see cref="StateDictFile"/> reads weights by extension: .pth through the PyTorch reader, .safetensors plain or as an engine checkpoint.</summary>
public class StateDictFileTests
{
    [Fact]
    public void ReadsEachKindByExtension()
    {
        using var scope = Tensor.Scope();
        var dir = Directory.CreateTempSubdirectory("statedict");
        try
        {
            using (var pth = StateDictFile.Read(PthFiles.Path("nested.pth"), "model_ema"))
            {
                Assert.Equal("pth (zip)", pth.Kind);
                PthFiles.AssertMatches("nested.model_ema", pth.Tensors);
                var plain = Path.Combine(dir.FullName, "w.safetensors");
                SafeTensors.Write(plain, pth.Tensors);
                var engine = Path.Combine(dir.FullName, "ckpt.safetensors");
                Checkpoint.Save(engine, pth.Tensors, epoch: 2, metadata: new Dictionary<string, string> { ["note"] = "x" });
                using var a = StateDictFile.Read(plain);
                Assert.Equal("safetensors", a.Kind);
                PthFiles.AssertMatches("nested.model_ema", a.Tensors, ordered: false);
                using var b = StateDictFile.Read(engine);
                Assert.Equal("engine checkpoint", b.Kind);
                Assert.Equal("x", b.Metadata["note"]);
                PthFiles.AssertMatches("nested.model_ema", b.Tensors, ordered: false);
                Assert.Contains("only selects a nested dict", Assert.Throws<ArgumentException>(() => StateDictFile.Read(plain, "model")).Message);
            }
            Assert.Contains("unknown extension '.npz'", Assert.Throws<ArgumentException>(() => StateDictFile.Read("w.npz")).Message);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
