//! The camera session's integration tests: one binary, one module per concern.

mod camera;
mod impaired;
mod support;
