"""The `stackcheck` command: `main` parses the command line and hands each sub-command to its
module here (`fuzz`, `report`, `catalog`)."""
