//! The crate's one integration-test binary: the pipeline end to end with real Opus, real
//! files and (in `device`) real PulseAudio devices.

mod capture;
mod device;
mod receive;
mod sources;
mod video;
