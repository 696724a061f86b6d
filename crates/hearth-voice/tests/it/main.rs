//! Voice sessions of real clients, through a real in-process server and WebRTC over
//! loopback UDP, with synthetic audio in and recorded audio out.

mod calls;
mod device;
mod impaired;
mod reconnect;
mod support;
