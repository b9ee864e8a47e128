using System.CommandLine;
using Confide.Cli;

// Each command group lives in Commands/ and registers itself with one line here.
var root = new RootCommand("confide: secure federated learning: robust aggregation, differential privacy and secure aggregation.");
CliRoot.AddCommands(root);
return CliRoot.Run(root, args);
