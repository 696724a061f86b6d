//! Integration tests of hearth-peer: real webrtc-rs connections over loopback UDP, with
//! signaling passed between meshes in memory.

mod bad_input;
mod camera;
mod impaired;
mod leak;
mod mesh;
mod net;
