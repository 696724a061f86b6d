//! The camera session's integration tests: one binary, one module per concern.

mod camera;
mod faults;
mod impaired;
mod support;
