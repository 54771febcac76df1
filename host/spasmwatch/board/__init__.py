"""Work done to a board through mpremote: what deploy copies, and the self-test run and verdict."""
