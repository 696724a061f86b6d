//! The camera session's integration tests: one binary, one module per concern.

mod browser;
mod camera;
mod faults;
mod impaired;
mod mdns;
mod support;
