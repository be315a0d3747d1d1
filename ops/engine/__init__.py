"""The Pulumi engine this project builds and drives: the toolchain (CLI, language host, provider from Go modules),
the stacks it runs on (stack files, backends, scratch projects, render), and system tools from Debian."""
