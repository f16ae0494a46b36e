using System.CommandLine;
using Engine.Models.Explore;
using Spectre.Console;

namespace Engine.Samples.Cli.Explore;

/// <summary><c>engine explore stages --model NAME</c>: the feature stages <c>--stage</c> accepts, with their output shapes.</summary>
internal static class StagesCommand
{
    public static Command Create()
    {
        var model = ExploreCommand.ModelOption();
        var all = new Option<bool>("--all") { Description = "List every module that runs on a tensor, not only the stages." };
        var command = new Command("stages", "List a model's feature stages (for --stage) and their output shapes.") { model, all };
        command.SetAction(parse => ExploreCommand.Guard(() =>
        {
            using var net = ExploreData.Model(parse.GetValue(model)!);
            var table = new Table().AddColumn("module").AddColumn("output (one image)");
            if (parse.GetValue(all))
            {
                foreach (var (path, shape) in FeatureStageFinder.TraceOutputs(net, ExploreData.InputShape))
                    table.AddRow(Markup.Escape(path.Length == 0 ? "(model)" : path), Markup.Escape(Layout.Format(shape)));
            }
            else
            {
                var stages = FeatureStageFinder.Find(net, ExploreData.InputShape);
                for (int i = 0; i < stages.Count; i++)
                    table.AddRow(Markup.Escape(stages[i].Path) + (i == stages.Count - 1 ? " [grey](default)[/]" : ""), Markup.Escape(Layout.Format(stages[i].OutputShape)));
            }
            AnsiConsole.Write(table);
            return 0;
        }));
        return command;
    }
}
