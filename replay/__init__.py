"""Folds over the log: sealing it into a Merkle tree, verifying it, audit bundles, replays."""
