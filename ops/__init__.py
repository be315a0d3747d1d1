"""The commands, one module each (`python -m ops.<command>`, or its make target), and the libraries behind them,
grouped by purpose: engine/ (toolchain and stacks), checks/, reports/, rehearsal/ (the local cluster), measure/."""
