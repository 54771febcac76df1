"""What the host tool and the simulator share: the front-end model, records, recording I/O, errors, tools."""
