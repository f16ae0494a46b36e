using Engine.Models.Data;
using Engine.Models.Nn;
using Engine.Models.Serialization;
using Engine.Models.Training;
using Engine.Models.Zoo;

namespace Engine.Models.Explore;

/// <summary>The images and models the explore tools work on: the embedded data set and the zoo, as the trainer sees them.</summary>
public static class ExploreData
{
    /// <summary>The input shape of the zoo's models (the recipe's 3x32x32).</summary>
    public static ImageShape InputShape => Recipes.FashionMnist(augment: false).InputShape with { Channels = 3 };

    /// <summary>
    /// The first <paramref name="count"/> test images of the embedded Fashion-MNIST set through the recipe's
    /// evaluation transform, as (N, 3, 32, 32) float32, with their labels (N) as int64. The caller owns both.
    /// </summary>
    public static (Tensor Images, Tensor Labels) EvalImages(int count)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        var (_, test) = DatasetCatalog.Load("fashion-mnist-small");
        if (count > test.Count) throw new ArgumentOutOfRangeException(nameof(count), $"explore: the embedded test set has {test.Count} images, asked for {count}.");
        var loader = new DataLoader(new SubsetDataset(test, count), count, transform: Recipes.FashionMnist(augment: false).Eval, prefetch: 0);
        var batch = loader.Epoch(0).First();
        return (batch.Images, batch.Labels);
    }

    /// <summary>
    /// The zoo's model <paramref name="name"/> for 3x32x32 inputs and 10 classes, initialised from
    /// <paramref name="seed"/>, or with the weights of the checkpoint in <paramref name="checkpoint"/> (a
    /// <c>train --out</c> directory or a checkpoint file) when given.
    /// </summary>
    public static Module<Tensor, Tensor> Model(string name, ulong seed = 0, string? checkpoint = null)
    {
        var model = ModelZoo.Create(name, InputShape, 10, new Engine.Randomness.Generator(seed));
        if (checkpoint is null) return model;
        try
        {
            LoadCheckpoint(model, checkpoint);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>The model name a <c>train</c> checkpoint (directory or file) was trained with, or null when it does not say.</summary>
    public static string? ModelNameOf(string checkpoint)
    {
        string path = Directory.Exists(checkpoint) ? Path.Combine(checkpoint, Trainer.CheckpointFile) : checkpoint;
        if (!File.Exists(path)) throw new FileNotFoundException($"explore: no checkpoint at {path}.", path);
        using var ckpt = Checkpoint.Load(path);
        return ckpt.Metadata.TryGetValue("train_options", out var json)
            ? System.Text.Json.JsonSerializer.Deserialize<TrainOptions>(json)?.Model : null;
    }

    /// <summary>Loads the model weights of a checkpoint (directory or file) into <paramref name="model"/>, strictly.</summary>
    public static void LoadCheckpoint(Module model, string checkpoint)
    {
        string path = Directory.Exists(checkpoint) ? Path.Combine(checkpoint, Trainer.CheckpointFile) : checkpoint;
        if (!File.Exists(path)) throw new FileNotFoundException($"explore: no checkpoint at {path}.", path);
        using var ckpt = Checkpoint.Load(path);
        model.LoadStateDict(ckpt.Model);
    }
}
