//! hearth-desktop's integration tests: one binary, one module per concern.

mod bindings;
mod camera;
mod devices;
mod lan;
mod room;
mod support;
mod voice;
