using System.CommandLine;
using Engine.Samples.Cli.Bench;
using Engine.Samples.Cli.CommandLine;
using Spectre.Console;

// Piped output (scripts reading the JSON line) should not carry terminal escape codes.
if (Console.IsOutputRedirected) AnsiConsole.Profile.Capabilities.Ansi = false;

// The `engine` command line. Each command lives in its own file and is registered here with one line.
var root = new RootCommand("engine: a from-scratch deep learning engine");
root.Add(Engine.Samples.Cli.Train.TrainCommand.Create());
root.Add(Engine.Samples.Cli.Demo.DemoCommand.Create());
root.Add(BenchCommand.Create());
root.Add(Engine.Samples.Cli.Parity.ParityCommand.Create());
root.Add(Engine.Samples.Cli.Explore.ExploreCommand.Create());
root.Add(Engine.Samples.Cli.Cuda.CudaCommand.Create());
root.Add(Engine.Samples.Cli.Convert.ConvertCommand.Create());
root.Add(Engine.Samples.Cli.Predict.PredictCommand.Create());
root.Add(Engine.Samples.Cli.Distributed.DistributedCommand.Create());

// A mistake in the options is one line and exit code 2; a failure one line and exit code 1; never a stack trace (but with --verbose).
return CliRunner.Run(root, args);
