//! Voice sessions of real clients, through a real in-process server and WebRTC over
//! loopback UDP: synthetic audio in, and recorded audio out or (in `device`) a real cpal
//! playback device on a PulseAudio null sink.

mod browser;
mod calls;
mod device;
mod impaired;
mod pause;
mod reconnect;
mod support;
