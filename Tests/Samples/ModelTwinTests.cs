using Engine.Models.Zoo;
using Xunit;

namespace Engine.Tests.Samples;

/// <summary>
/// <c>engine bench model --torch</c> needs a PyTorch twin for every model the zoo knows: twins/&lt;family&gt;.py,
/// family being the name up to its first dash, naming the model.
/// </summary>
public class ModelTwinTests
{
    [Fact]
    public void EveryZooModelHasAPyTorchTwinThatNamesIt()
    {
        var twins = FindTwinsDirectory();
        foreach (var name in ModelZoo.Names)
        {
            var path = Path.Combine(twins, name.Split('-')[0] + ".py");
            Assert.True(File.Exists(path), $"no PyTorch twin for '{name}': expected {path}");
            Assert.Contains($"\"{name}\"", File.ReadAllText(path));
        }
    }

    private static string FindTwinsDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var path = Path.Combine(dir.FullName, "Samples", "bench", "twins");
            if (Directory.Exists(path)) return path;
        }
        throw new DirectoryNotFoundException("Samples/bench/twins not found above the test binaries.");
    }
}
