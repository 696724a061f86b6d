//! Devices (cpal shell).
