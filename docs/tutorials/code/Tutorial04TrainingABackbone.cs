// Tutorial 4: training a backbone end to end. docs/tutorials/04-training-a-backbone.md embeds the regions of
// this file; a test compiles and runs it (on a few hundred images), and checks that the page shows the regions as they are.
using Engine;
using Engine.Models.Data;
using Engine.Models.Explore;
using Engine.Models.Training;

namespace Engine.Tutorials;

#region observer
/// <summary>What the trainer reports, as plain lines (the command line shows a progress bar instead).</summary>
public sealed class LineObserver(TextWriter output) : ITrainingObserver
{
    public void Message(string text) => output.WriteLine(text);

    public void Step(StepReport r)
    {
        if (r.BatchInEpoch == r.BatchesPerEpoch) output.WriteLine($"step {r.Step}: loss {r.Loss:0.000}, {r.ImagesPerSecond:0} img/s");
    }

    public void Epoch(EpochReport r) =>
        output.WriteLine($"epoch {r.Epoch + 1}: train loss {r.TrainLoss:0.000}, test loss {r.TestLoss:0.000}, top-1 {100 * r.TestAccuracy:0.0}%");
}
#endregion

public static class Tutorial04TrainingABackbone
{
    public static TrainResult Train(string runDirectory, TextWriter output, int limitTrain = 512, int limitTest = 256)
    {
        #region train
        var options = new TrainOptions
        {
            Model = "cnn",                      // any ModelZoo name: the backbones' "-nano" models once they land
            Data = "fashion-mnist-small",       // embedded in the library: no download
            Epochs = 1,
            Batch = 64,
            LimitTrain = limitTrain,            // a quick run; leave both limits out for the whole set
            LimitTest = limitTest,
            Device = "cpu",
            Out = runDirectory,                 // logs and checkpoint.safetensors go here
        };
        var result = new Trainer(options, new LineObserver(output)).Run();
        #endregion
        return result;
    }

    public static (double Accuracy, double Loss) Evaluate(string runDirectory)
    {
        #region evaluate
        using var model = ExploreData.Model("cnn", checkpoint: runDirectory);   // the weights of the run
        var (_, test) = DatasetCatalog.Load("fashion-mnist-small");
        var loader = new DataLoader(new SubsetDataset(test, 256), 128, transform: Recipes.FashionMnist(augment: false).Eval);
        var (accuracy, loss) = Trainer.Evaluate(model, loader);
        #endregion
        return (accuracy, loss);
    }

    public static IReadOnlyList<ErfResult> ReceptiveFields(string runDirectory, string outDirectory, TextWriter output)
    {
        #region erf
        var fields = ErfReport.Run("cnn", checkpoint: runDirectory, stage: null, images: 32, outDirectory);
        output.Write(ErfReport.Format(fields));  // erf-init-features.png, erf-trained-features.png, erf.json
        #endregion
        return fields;
    }
}
