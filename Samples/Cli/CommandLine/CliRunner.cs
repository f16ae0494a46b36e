using System.CommandLine;
using System.CommandLine.Parsing;

namespace Engine.Samples.Cli.CommandLine;

/// <summary>
/// Runs the command line so that a user never sees a .NET stack trace: a mistake in the options (found while
/// parsing, or by a command's own checks before it starts, as a <see cref="UsageException"/>, or a file named that
/// is not there) is one line per
/// problem on stderr and exit code 2; any other exception is one line and exit code 1. <c>--verbose</c> adds
/// the exception's full text, stack trace included.
/// </summary>
internal static class CliRunner
{
    /// <summary>Exit code of a mistake in the command line.</summary>
    public const int UsageError = 2;

    /// <summary>Exit code of a failure while the command ran.</summary>
    public const int Failure = 1;

    /// <summary>Parses <paramref name="args"/> against <paramref name="root"/> and runs the command chosen.</summary>
    public static int Run(RootCommand root, string[] args)
    {
        var verbose = new Option<bool>("--verbose") { Description = "On an error, also print its stack trace.", Recursive = true };
        root.Add(verbose);
        OptionRules.ApplyTo(root);
        ParseResult? parse = null;
        string command = "engine";
        try
        {
            parse = root.Parse(args);
            command = string.Join(' ', Path(parse.CommandResult));
            if (parse.Errors.Count > 0)
            {
                foreach (var error in parse.Errors) Console.Error.WriteLine($"{command}: {Describe(error)}");
                Console.Error.WriteLine($"(see: {command} --help)");
                return UsageError;
            }
            return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception e)
        {
            var inner = e is AggregateException { InnerExceptions.Count: 1 } a ? a.InnerException! : e;
            // A file or folder the user named that is not there is their mistake too, found as soon as the command opens it.
            bool usage = inner is UsageException or FileNotFoundException or DirectoryNotFoundException;
            if (usage)
                foreach (var line in inner.Message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    Console.Error.WriteLine(Prefixed(command, line));
            else Console.Error.WriteLine($"{command}: error: {OneLine(inner.Message)} ({inner.GetType().Name})");
            if (parse?.GetValue(verbose) == true || args.Contains("--verbose")) Console.Error.WriteLine(inner.ToString());
            else if (!usage) Console.Error.WriteLine("(run again with --verbose for the details)");
            return usage ? UsageError : Failure;
        }
    }

    /// <summary>The names from the root to <paramref name="result"/>'s command: <c>engine bench gemm</c>.</summary>
    private static IEnumerable<string> Path(CommandResult result)
    {
        var names = new Stack<string>();
        for (SymbolResult? r = result; r is not null; r = r.Parent)
            if (r is CommandResult c) names.Push(c.Command is RootCommand ? "engine" : c.Command.Name);
        return names;
    }

    /// <summary>The error on one line, naming its option when the parser's own message does not.</summary>
    private static string Describe(ParseError error)
    {
        string message = OneLine(error.Message);
        string? option = error.SymbolResult switch
        {
            OptionResult o => o.Option.Name,
            ArgumentResult { Parent: OptionResult o } => o.Option.Name,
            _ => null,
        };
        return option is null || message.Contains(option, StringComparison.Ordinal) ? message : $"{option}: {message}";
    }

    /// <summary><c>engine train --batch 0: ...</c> for a line that starts with the command's name, else <c>engine train: line</c>.</summary>
    private static string Prefixed(string command, string line)
    {
        string last = command[(command.LastIndexOf(' ') + 1)..];
        return line.StartsWith(last + " ", StringComparison.Ordinal) ? $"{command[..^last.Length]}{line}" : $"{command}: {line}";
    }

    private static string OneLine(string text) =>
        string.Join(' ', text.Split(['\r', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
