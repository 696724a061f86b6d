//! Server tests over loopback: real sockets, real WebSocket clients, a real SQLite file.

mod bad_input;
mod binary;
mod browser;
mod fanout;
mod families;
mod http_and_origin;
mod restart;
mod support;
