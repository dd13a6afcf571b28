"""One module per `dialer` subcommand family; each defines C{register(subparsers)}."""
