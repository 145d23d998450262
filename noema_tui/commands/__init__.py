"""One module per `noema` subcommand. Each imports only typer at module level so that
`noema --help` stays instant; torch, the engine and Textual are imported inside the command."""
