//! hearth-discovery's integration tests: one binary, one module per concern.

mod lan;
