//! The client against a real in-process server over loopback.
