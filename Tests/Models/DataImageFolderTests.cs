using Engine.Models.Data;
using Engine.Models.Data.Images;
using StbImageWriteSharp;
using Xunit;

namespace Engine.Tests.Models;

/// <summary>Writes small folders of generated images for the image-folder and training tests.</summary>
internal static class ImageFolders
{
    /// <summary>
    /// A JPEG of <paramref name="height"/> x <paramref name="width"/> whose colour depends on <paramref name="label"/>
    /// (a different dominant channel and stripe direction per class) plus per-image noise, so a model can learn it.
    /// </summary>
    public static void WriteJpeg(string path, int label, int height, int width, int seed)
    {
        var rng = new Random(seed);
        var pixels = new byte[height * width * 3];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                bool stripe = ((label % 2 == 0 ? x : y) / 3) % 2 == 0;
                for (int c = 0; c < 3; c++)
                {
                    int v = (c == label % 3 ? 200 : 40) + (stripe ? 40 : -20) + rng.Next(-15, 16);
                    pixels[(y * width + x) * 3 + c] = (byte)Math.Clamp(v, 0, 255);
                }
            }
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var file = File.Create(path);
        new ImageWriter().WriteJpg(pixels, width, height, ColorComponents.RedGreenBlue, file, 90);
    }

    /// <summary>DIR/train and DIR/val, each with <paramref name="classes"/> class folders of JPEGs of assorted sizes.</summary>
    public static void WriteSplits(string root, string[] classes, int trainPerClass, int valPerClass)
    {
        for (int label = 0; label < classes.Length; label++)
        {
            for (int i = 0; i < trainPerClass; i++)
                WriteJpeg(Path.Combine(root, "train", classes[label], $"img{i}.jpg"), label, 36 + 3 * i, 44 - 2 * i, 1000 * label + i);
            for (int i = 0; i < valPerClass; i++)
                WriteJpeg(Path.Combine(root, "val", classes[label], $"img{i}.JPEG"), label, 40, 40 + i, 5000 + 1000 * label + i);
        }
    }
}

/// <summary><see cref="ImageFolder"/>: torchvision's class order, file order and extensions, and bad files reported by path.</summary>
public class DataImageFolderTests
{
    [Fact]
    public void Classes_and_files_are_sorted_as_torchvision_sorts_them()
    {
        var root = Directory.CreateTempSubdirectory("engine-folder-").FullName;
        try
        {
            // Ordinal order: upper case before '_' before lower case.
            ImageFolders.WriteJpeg(Path.Combine(root, "b", "z.jpg"), 0, 8, 8, 1);
            ImageFolders.WriteJpeg(Path.Combine(root, "b", "a.JPG"), 0, 8, 8, 2);
            ImageFolders.WriteJpeg(Path.Combine(root, "b", "nested", "deep.jpeg"), 0, 8, 8, 3);
            ImageFolders.WriteJpeg(Path.Combine(root, "B", "x.jpg"), 1, 8, 10, 4);
            ImageFolders.WriteJpeg(Path.Combine(root, "_c", "y.jpg"), 2, 12, 8, 5);
            File.WriteAllText(Path.Combine(root, "b", "readme.txt"), "ignored: not an image extension");
            File.WriteAllText(Path.Combine(root, "top-level-file.jpg"), "ignored: not in a class folder");

            var folder = new ImageFolder(root);
            Assert.Equal(["B", "_c", "b"], folder.ClassNames);
            Assert.Equal(2, folder.ClassToIndex["b"]);
            Assert.Equal(5, folder.Count);
            var names = Enumerable.Range(0, folder.Count).Select(i => Path.GetRelativePath(root, folder.PathAt(i)).Replace('\\', '/')).ToArray();
            Assert.Equal(["B/x.jpg", "_c/y.jpg", "b/a.JPG", "b/z.jpg", "b/nested/deep.jpeg"], names);
            Assert.Equal([0, 1, 2, 2, 2], Enumerable.Range(0, folder.Count).Select(folder.LabelAt));
            var sample = folder.Get(1);
            Assert.Equal((new ImageShape(3, 12, 8), 1), (sample.Image.Shape, sample.Label));
            Assert.Equal([1, 1, 3], folder.ClassCounts());
        }
        finally { Directory.Delete(root, true); }
    }

    [Fact]
    public void Undecodable_files_are_an_error_naming_them_or_skipped_with_a_warning()
    {
        var root = Directory.CreateTempSubdirectory("engine-folder-").FullName;
        try
        {
            ImageFolders.WriteJpeg(Path.Combine(root, "cat", "ok.jpg"), 0, 8, 8, 1);
            ImageFolders.WriteJpeg(Path.Combine(root, "dog", "ok.jpg"), 1, 8, 8, 2);
            var webp = Path.Combine(root, "cat", "photo.webp");
            File.Copy(Path.Combine(DataImageFileTests.Dir, "unsupported.webp"), webp);
            var broken = Path.Combine(root, "dog", "broken.png");
            File.WriteAllText(broken, "not a png");

            var e = Assert.Throws<InvalidDataException>(() => new ImageFolder(root));
            Assert.Contains(webp, e.Message);
            Assert.Contains(broken, e.Message);
            Assert.Contains("2 file(s)", e.Message);

            var warnings = new List<string>();
            var folder = new ImageFolder(root, UnreadableImages.Skip, warnings.Add);
            Assert.Equal(2, folder.Count);
            Assert.Equal(2, warnings.Count);
            Assert.Contains(warnings, w => w.Contains(webp) && w.StartsWith("warning: skipped", StringComparison.Ordinal));
        }
        finally { Directory.Delete(root, true); }
    }

    [Fact]
    public void A_class_without_images_and_a_missing_folder_are_errors()
    {
        var root = Directory.CreateTempSubdirectory("engine-folder-").FullName;
        try
        {
            ImageFolders.WriteJpeg(Path.Combine(root, "cat", "ok.jpg"), 0, 8, 8, 1);
            Directory.CreateDirectory(Path.Combine(root, "empty"));
            var e = Assert.Throws<FileNotFoundException>(() => new ImageFolder(root));
            Assert.Contains("found no valid file for the classes empty", e.Message);
            Assert.Contains(".webp", e.Message);
            Assert.Throws<DirectoryNotFoundException>(() => new ImageFolder(Path.Combine(root, "nope")));
        }
        finally { Directory.Delete(root, true); }
    }

    [Fact]
    public void A_loader_with_the_imagenet_recipe_batches_images_of_any_size()
    {
        var root = Directory.CreateTempSubdirectory("engine-folder-").FullName;
        try
        {
            ImageFolders.WriteSplits(root, ["cat", "dog"], trainPerClass: 3, valPerClass: 1);
            var folder = new ImageFolder(Path.Combine(root, "train"));
            var recipe = Recipes.ImageNet(16);
            var loader = new DataLoader(folder, 4, shuffle: true, seed: 1, transform: recipe.Train, prefetch: 0);
            Assert.Equal(new ImageShape(3, 16, 16), loader.ImageShape);
            var batches = loader.Epoch(0).ToList();
            Assert.Equal([4, 2], batches.Select(b => b.Size));
            Assert.Equal([4, 3, 16, 16], batches[0].Images.Shape.ToArray());
            Assert.Contains("images of any size", Assert.Throws<ArgumentException>(() => new DataLoader(folder, 4)).Message);
            Assert.Contains("images of any size", Assert.Throws<ArgumentException>(() => new DataLoader(folder, 4, transform: new Resize(16))).Message);
            var again = loader.Epoch(0).First();
            Assert.Equal(batches[0].Images.ToArray<float>(), again.Images.ToArray<float>());
            foreach (var b in batches) b.Dispose();
            again.Dispose();
        }
        finally { Directory.Delete(root, true); }
    }
}
