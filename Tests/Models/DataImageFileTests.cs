using System.Text.Json;
using Engine.Models.Data;
using Engine.Models.Data.Images;
using Xunit;

namespace Engine.Tests.Models;

/// <summary>
/// The managed decoder on the images of Tests/Data/images (made by make_expected.py there): every format and
/// pixel layout decodes to the pixels PIL gives (exactly for lossless files; within a few levels for JPEG, whose
/// decoders may round their inverse DCT and chroma upsampling differently), and bad files name their path.
/// </summary>
public class DataImageFileTests
{
    internal static string Dir => Path.Combine(AppContext.BaseDirectory, "Data", "images");

    internal static JsonElement Manifest { get; } = JsonDocument.Parse(File.ReadAllText(Path.Combine(Dir, "manifest.json"))).RootElement.Clone();

    internal static byte[] Raw(string name) => File.ReadAllBytes(Path.Combine(Dir, name));

    public static TheoryData<string> DecodeCases()
    {
        var data = new TheoryData<string>();
        foreach (var c in Manifest.GetProperty("decode").EnumerateArray()) data.Add(c.GetProperty("file").GetString()!);
        return data;
    }

    [Theory]
    [MemberData(nameof(DecodeCases))]
    public void Each_format_decodes_to_the_pixels_PIL_gives(string file)
    {
        var entry = Manifest.GetProperty("decode").EnumerateArray().Single(c => c.GetProperty("file").GetString() == file);
        var expected = Raw(entry.GetProperty("expected").GetString()!);
        var image = ImageFile.Read(Path.Combine(Dir, file));
        var source = Manifest.GetProperty("source");
        Assert.Equal((source.GetProperty("height").GetInt32(), source.GetProperty("width").GetInt32(), 3), (image.Height, image.Width, image.Channels));
        Assert.Equal(expected.Length, image.Pixels.Length);
        int worst = 0;
        double sum = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            int d = Math.Abs(expected[i] - image.Pixels[i]);
            worst = Math.Max(worst, d);
            sum += d;
        }
        if (file.EndsWith(".jpg", StringComparison.Ordinal))
        {
            // Different JPEG decoders agree to a few levels (IDCT and chroma upsampling rounding), not bit for bit.
            // Measured against PIL 9.4 (libjpeg): at most 3 levels, mean 0.10, on both files.
            Assert.True(worst <= 4 && sum / expected.Length <= 0.25, $"{file}: worst difference {worst}, mean {sum / expected.Length:0.00} levels");
        }
        else Assert.True(worst == 0, $"{file}: worst difference {worst} levels (lossless: must be exact)");
    }

    [Fact]
    public void A_tensor_is_chw_in_zero_to_one()
    {
        var image = ImageFile.Read(Path.Combine(Dir, "rgb.png"));
        using var t = ImageFile.ReadTensor(Path.Combine(Dir, "rgb.png"));
        Assert.Equal([3, image.Height, image.Width], t.Shape.ToArray());
        var values = t.ToArray<float>();
        // Pixel (y 5, x 7), green channel.
        Assert.Equal(image.Pixels[(5 * image.Width + 7) * 3 + 1] / 255f, values[(1 * image.Height + 5) * image.Width + 7]);
    }

    [Fact]
    public void Plain_text_ppm_with_a_large_maxval_scales_as_PIL_does()
    {
        var entry = Manifest.GetProperty("plain_ppm");
        var image = ImageFile.Read(Path.Combine(Dir, entry.GetProperty("file").GetString()!));
        Assert.Equal((entry.GetProperty("height").GetInt32(), entry.GetProperty("width").GetInt32()), (image.Height, image.Width));
        Assert.Equal(Raw(entry.GetProperty("expected").GetString()!), image.Pixels);
    }

    [Fact]
    public void Damaged_netpbm_files_say_what_is_wrong()
    {
        var dir = Directory.CreateTempSubdirectory("engine-pnm-").FullName;
        try
        {
            foreach (var (content, expected) in new[] { ("P6\n4 3\n255\nabc", "bytes of samples, the header needs 36"), ("P5\n4", "header is cut short"),
                ("P3\n2 1\n255\n1 2 3 4 5", "sample 5 of 6 is missing"), ("P6\n0 3\n255\n", "0x3 with maxval 255") })
            {
                var path = Path.Combine(dir, "bad.ppm");
                File.WriteAllText(path, content);
                var e = Assert.Throws<InvalidDataException>(() => ImageFile.Read(path));
                Assert.Contains(path, e.Message);
                Assert.Contains(expected, e.Message);
            }
        }
        finally { Directory.Delete(dir, true); }
    }

    [Theory]
    [InlineData("unsupported.webp", "WebP")]
    [InlineData("unsupported.tif", "TIFF")]
    public void Formats_the_decoder_does_not_read_are_reported_by_path(string file, string format)
    {
        var path = Path.Combine(Dir, file);
        var e = Assert.Throws<InvalidDataException>(() => ImageFile.Read(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(format, e.Message);
        Assert.NotNull(ImageFile.Check(path));
    }

    [Fact]
    public void Damaged_empty_and_missing_files_name_their_path()
    {
        var dir = Directory.CreateTempSubdirectory("engine-images-").FullName;
        try
        {
            var png = Raw("rgb.png");
            var truncated = Path.Combine(dir, "truncated.png");
            File.WriteAllBytes(truncated, png.AsSpan(0, png.Length / 2).ToArray());
            Assert.Contains(truncated, Assert.Throws<InvalidDataException>(() => ImageFile.Read(truncated)).Message);

            var empty = Path.Combine(dir, "empty.jpg");
            File.WriteAllBytes(empty, []);
            Assert.Contains("is empty", Assert.Throws<InvalidDataException>(() => ImageFile.Read(empty)).Message);
            Assert.Contains(empty, ImageFile.Check(empty));

            var text = Path.Combine(dir, "notes.png");
            File.WriteAllText(text, "not an image at all");
            Assert.Contains(text, Assert.Throws<InvalidDataException>(() => ImageFile.Read(text)).Message);

            var missing = Path.Combine(dir, "missing.png");
            Assert.Contains(missing, Assert.Throws<InvalidDataException>(() => ImageFile.Read(missing)).Message);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Extensions_are_torchvisions_in_any_case()
    {
        foreach (var name in new[] { "a.jpg", "a.JPEG", "a.Png", "a.ppm", "a.BMP", "a.pgm", "a.tif", "a.TIFF", "a.webp" })
            Assert.True(ImageFile.HasImageExtension(name), name);
        foreach (var name in new[] { "a.gif", "a.txt", "jpg", "a.jpg.bak", "a.pnm" })
            Assert.False(ImageFile.HasImageExtension(name), name);
    }
}
