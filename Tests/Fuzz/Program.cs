using Engine.Fuzz;

// engine-fuzz TARGET            : the AFL++ harness (run under afl-fuzz by run.sh), one input per fork.
// engine-fuzz TARGET FILE...    : replays files (a crash found, the seed corpus) and prints each outcome.
// engine-fuzz seeds DIR         : writes the seed corpus of every target under DIR/TARGET/.
if (args.Length == 2 && args[0] == "seeds")
{
    Seeds.Write(args[1]);
    return 0;
}
if (args.Length == 0 || !FuzzTargets.All.ContainsKey(args[0]))
{
    Console.Error.WriteLine($"usage: engine-fuzz TARGET [FILE...] | engine-fuzz seeds DIR; targets: {string.Join(", ", FuzzTargets.All.Keys)}");
    return 2;
}
string target = args[0];
if (args.Length > 1)
{
    int crashes = 0;
    foreach (var file in args.Skip(1))
    {
        try
        {
            var refused = FuzzTargets.Run(target, File.ReadAllBytes(file));
            Console.WriteLine($"{file}: {(refused is null ? "read" : $"refused ({refused.GetType().Name}: {refused.Message})")}");
        }
        catch (Exception e)
        {
            crashes++;
            Console.WriteLine($"{file}: CRASH {e.GetType().Name}: {e.Message}");
        }
    }
    return crashes == 0 ? 0 : 1;
}
SharpFuzz.Fuzzer.OutOfProcess.Run(stream =>
{
    using var buffer = new MemoryStream();
    stream.CopyTo(buffer);
    FuzzTargets.Run(target, buffer.ToArray());
});
return 0;
