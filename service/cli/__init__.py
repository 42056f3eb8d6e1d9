"""Command-line interface: one module per command, each thin (parse options, call a function, print)."""
