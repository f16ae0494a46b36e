using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Engine.Autograd;
using Engine.Models.Data;
using Engine.Models.Nn;
using Engine.Models.Serialization;
using Engine.Models.Training;
using Engine.Models.Zoo;

namespace Engine.Samples.Cli.Predict;

/// <summary>
/// <c>engine predict --model NAME --weights FILE IMAGE... [--device cpu|cuda[:N]]</c>: loads the weights (a PyTorch
/// checkpoint, the engine's training checkpoint or safetensors, see <see cref="StateDictFile"/>) into the model with
/// strict key checking, and prints each image's top-5 classes with their probabilities, then one JSON line.
/// A checkpoint written by <c>train</c> brings its model, dataset and preprocessing (its dataset's evaluation
/// recipe on 28x28 grey images) and its dataset's class names. Other weights are ImageNet-style: the number of
/// classes is read from the classifier's weights, images are resized and centre-cropped to --image-size
/// (default 224, 256 for AFFNet, 32 for the Nano models) and normalised with ImageNet's statistics; class names
/// come from --labels (one per line), else ImageNet's for 1000-class weights (the list shipped beside this file,
/// in the class order every official checkpoint uses), else they are printed as "class N".
/// </summary>
internal static class PredictCommand
{
    private const int Top = 5;

    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = "Model name (as train's --model); default: the one a training checkpoint names." };
        var weights = new Option<string>("--weights") { Description = "Weights: .pth/.pt/.bin/.ckpt (PyTorch) or .safetensors (plain or a train checkpoint).", Required = true };
        var entry = new Option<string?>("--entry") { Description = "The nested dict of a PyTorch checkpoint holding the weights (default: found, as model or state_dict)." };
        var imageSize = new Option<int?>("--image-size") { Description = "Input size for ImageNet-style weights (default 224; 256 for affnet; 32 for Nano models)." };
        var labels = new Option<string?>("--labels") { Description = "A text file of class names, one per line, in class order." };
        var device = new Option<string>("--device") { Description = "cpu, cuda or cuda:N.", DefaultValueFactory = _ => "cpu" };
        device.Validators.Add(r =>
        {
            var text = r.GetValueOrDefault<string>() ?? "";
            if (!System.Text.RegularExpressions.Regex.IsMatch(text, "^(cpu|cuda(:[0-9]+)?)$")) r.AddError($"--device must be cpu, cuda or cuda:N, not '{text}'.");
        });
        var images = new Argument<string[]>("images") { Description = "Image files (PNG, JPEG, BMP, ...).", Arity = ArgumentArity.OneOrMore };
        var command = new Command("predict", "Classify images with a model and its weights; print the top-5 classes.") { model, weights, entry, imageSize, labels, device, images };
        command.SetAction(parse => Run(parse.GetValue(model), parse.GetValue(weights)!, parse.GetValue(entry), parse.GetValue(imageSize),
            parse.GetValue(labels), parse.GetValue(device)!, parse.GetValue(images)!));
        return command;
    }

    private static int Run(string? modelName, string weightsPath, string? entry, int? imageSize, string? labelsPath, string deviceText, string[] images)
    {
        try
        {
            var device = ParseDevice(deviceText);
            using var scope = Tensor.Scope();
            using var weights = StateDictFile.Read(weightsPath, entry);
            var setup = weights.Metadata.TryGetValue("train_options", out var json)
                ? FromTraining(JsonSerializer.Deserialize<TrainOptions>(json)!, modelName)
                : FromImageNetStyle(modelName ?? throw new ArgumentException("predict: --model is required for weights not written by train."), weights.Tensors, imageSize);
            var names = labelsPath is not null ? ReadLabels(labelsPath, setup.Classes)
                : setup.ClassNames ?? (setup.Classes == ImageNetClasses.Count ? ImageNetClasses.Names : null);

            using var model = ModelZoo.Create(setup.Model, setup.Shape, setup.Classes, new Engine.Randomness.Generator(0));
            model.LoadStateDict(weights.Tensors);
            model.ToDevice(device);
            model.Eval();
            var results = new List<object>();
            foreach (var path in images)
            {
                var probabilities = Classify(model, setup.Preprocess(path), device);
                var top = probabilities.Select((p, i) => (p, i)).OrderByDescending(x => x.p).ThenBy(x => x.i).Take(Top).ToList();
                Console.WriteLine(path);
                for (int r = 0; r < top.Count; r++)
                    Console.WriteLine($"  {r + 1}. {Name(names, top[r].i),-24} {top[r].p * 100,7:F2}%");
                results.Add(new { image = path, top = top.Select(t => new { index = t.i, name = Name(names, t.i), probability = t.p }) });
            }
            Console.WriteLine(JsonSerializer.Serialize(new { model = setup.Model, weights = weightsPath, kind = weights.Kind, predictions = results }));
            return 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or InvalidDataException or JsonException or KeyNotFoundException)
        {
            Console.Error.WriteLine(e.Message.StartsWith("predict:", StringComparison.Ordinal) ? e.Message : $"predict: {e.Message}");
            return 2;
        }
    }

    /// <summary>What predict needs to know about a model and its inputs.</summary>
    private sealed record Setup(string Model, ImageShape Shape, int Classes, IReadOnlyList<string>? ClassNames, Func<string, ChwImage> Preprocess);

    /// <summary>A checkpoint from <c>train</c>: its model, its dataset's classes and the trainer's evaluation recipe.</summary>
    private static Setup FromTraining(TrainOptions options, string? modelName)
    {
        if (modelName is not null && modelName != options.Model)
            throw new ArgumentException($"predict: the checkpoint was trained as '{options.Model}', not '{modelName}'.");
        var names = options.Data switch
        {
            "fashion-mnist" or "fashion-mnist-small" => IdxDataset.FashionClasses,
            "mnist" => IdxDataset.DigitClasses,
            "cifar10" => Cifar10Dataset.Classes,
            _ => DatasetCatalog.Load(options.Data, options.DataDir).Test.ClassNames,
        };
        var recipe = Recipes.FashionMnist(augment: false);
        var random = new SampleRandom(0, 0, 0, 0);
        return new Setup(options.Model, recipe.InputShape with { Channels = 3 }, names.Count, names, path =>
        {
            var image = ImageFiles.Decode(path, channels: 1);
            if (image.Shape.Height != 28 || image.Shape.Width != 28)
                throw new ArgumentException($"predict: '{path}' is {image.Shape.Height}x{image.Shape.Width}; a model trained by train on {options.Data} takes 28x28 grey images.");
            return recipe.Eval.Apply(image, random);
        });
    }

    /// <summary>Weights from elsewhere: classes from the classifier's shape, ImageNet preprocessing at the model's size.</summary>
    private static Setup FromImageNetStyle(string model, IReadOnlyDictionary<string, Tensor> state, int? imageSize)
    {
        bool nano = model.EndsWith("-nano", StringComparison.Ordinal);
        int size = imageSize ?? (nano ? 32 : model == "affnet" ? 256 : 224);
        // vHeat's frequency embeddings fix its input size: stage 0's is (size/4, size/4, C).
        if (imageSize is null && state.TryGetValue("freq_embed.0", out var fe) && fe.Shape.Length == 3) size = fe.Shape[0] * 4;
        var shape = new ImageShape(3, size, size);
        int classes = ClassesOf(model, shape, state);
        double cropPct = nano ? 1.0 : Recipes.CropPct(model);
        var eval = Recipes.ImageNet(size, cropPct, augment: false).Eval;
        var random = new SampleRandom(0, 0, 0, 0);
        return new Setup(model, shape, classes, null, path => eval.Apply(ImageFiles.Decode(path, channels: 3), random));
    }

    /// <summary>
    /// The number of classes the weights were trained for: the first dimension of the tensors that a probe model
    /// sized for an unusual count has that count in. When the weights have no such tensor they do not fit the model,
    /// and ImageNet's 1000 is returned so that loading reports the missing and unexpected keys.
    /// </summary>
    private static int ClassesOf(string model, ImageShape shape, IReadOnlyDictionary<string, Tensor> state)
    {
        const int probe = 1001;
        using var scope = Tensor.Scope();
        using var m = ModelZoo.Create(model, shape, probe, new Engine.Randomness.Generator(0));
        foreach (var (key, t) in m.StateDict())
            if (t.Shape.Length > 0 && t.Shape[0] == probe && state.TryGetValue(key, out var s) && s.Shape.Length == t.Shape.Length)
                return s.Shape[0];
        return 1000;
    }

    private static float[] Classify(Module<Tensor, Tensor> model, ChwImage image, Device device)
    {
        using var scope = Tensor.Scope();
        using var noGrad = Tape.NoGrad();
        var input = Tensor.FromArray(image.Pixels, [1, image.Shape.Channels, image.Shape.Height, image.Shape.Width]).ToDevice(device);
        var logits = model.Forward(input).ToDevice(Device.Cpu).ToDType(DType.F64).ToArray<double>();
        double max = logits.Max(), sum = logits.Sum(l => Math.Exp(l - max));
        return logits.Select(l => (float)(Math.Exp(l - max) / sum)).ToArray();
    }

    private static Device ParseDevice(string text)
    {
        if (text == "cpu") return Device.Cpu;
        if (!Engine.Backends.Devices.CudaAvailable) throw new ArgumentException($"predict: --device {text} asked for, but no CUDA device is available on this machine.");
        return Device.Cuda(text.Length > 5 ? int.Parse(text[5..], CultureInfo.InvariantCulture) : 0);
    }

    private static IReadOnlyList<string> ReadLabels(string path, int classes)
    {
        var lines = File.ReadAllLines(path).Where(l => l.Length > 0).ToList();
        if (lines.Count != classes) throw new ArgumentException($"predict: '{path}' has {lines.Count} class names, but the model has {classes} classes.");
        return lines;
    }

    /// <summary>ImageNet-1k's class names in class order, read once from the embedded <c>imagenet-classes.txt</c>.</summary>
    private static class ImageNetClasses
    {
        public const int Count = 1000;
        public static readonly IReadOnlyList<string> Names = Read();

        private static List<string> Read()
        {
            using var stream = typeof(PredictCommand).Assembly.GetManifestResourceStream("imagenet-classes.txt")
                ?? throw new InvalidOperationException("predict: the embedded ImageNet class list is missing from the build.");
            using var reader = new StreamReader(stream);
            var names = reader.ReadToEnd().Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).ToList();
            if (names.Count != Count) throw new InvalidOperationException($"predict: the embedded ImageNet class list has {names.Count} names, not {Count}.");
            return names;
        }
    }

    private static string Name(IReadOnlyList<string>? names, int index) => names is null ? $"class {index}" : names[index];
}
