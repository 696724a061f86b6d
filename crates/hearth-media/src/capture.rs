//! The send side: 48 kHz mono frames in, at most one Opus packet per frame out.
//!
//! Per frame, in order: input gain; the level meter (after gain, so it shows what is sent);
//! noise suppression with RNNoise (`nnnoiseless`) on 10 ms sub-frames, whose voice
//! probability also drives the voice detector; voice activity with hangover; the transmit
//! decision (voice activation or push-to-talk, and self mute); and one Opus encode. The
//! caller sends the same packet to every peer, so the cost of encoding does not grow with
//! the size of the call.
//!
//! The pipeline never reads a clock: time is the count of samples processed, which also
//! gives the RTP timestamp of each packet.

use nnnoiseless::DenoiseState;
use opus::{Application, Bitrate, Channels, Encoder};

use crate::analysis::{peak, rms, to_dbfs};
use crate::{MediaError, SAMPLE_RATE, SAMPLES_PER_10MS};

/// The length of one capture frame, and so of one Opus packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameDuration {
    /// 10 ms (480 samples): lower latency, more packets.
    Ms10,
    /// 20 ms (960 samples): WebRTC's default.
    Ms20,
}

impl FrameDuration {
    /// Samples per frame at 48 kHz.
    pub fn samples(self) -> usize {
        match self {
            FrameDuration::Ms10 => SAMPLES_PER_10MS,
            FrameDuration::Ms20 => 2 * SAMPLES_PER_10MS,
        }
    }
}

/// How the pipeline decides when to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransmitMode {
    /// Send while voice is detected, and for the hangover after it.
    VoiceActivation,
    /// Send while the push-to-talk key is held ([`CapturePipeline::set_push_to_talk`]).
    PushToTalk,
}

/// Settings of a [`CapturePipeline`]; `Default` gives sensible voice-chat values.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureConfig {
    /// Frame (and packet) length.
    pub frame: FrameDuration,
    /// Gain applied before everything else, in dB.
    pub gain_db: f32,
    /// Whether RNNoise removes background noise.
    pub noise_suppression: bool,
    /// Voice activation or push-to-talk.
    pub mode: TransmitMode,
    /// With noise suppression on: the RNNoise voice probability (0..=1) above which a frame
    /// counts as voice.
    pub vad_probability: f32,
    /// With noise suppression off: the RMS level (dBFS) above which a frame counts as voice.
    pub vad_level_dbfs: f32,
    /// How long voice activation keeps sending after the last voiced frame, in ms, so word
    /// endings and short pauses are not cut.
    pub hangover_ms: u32,
    /// Opus target bitrate in bits per second.
    pub bitrate: i32,
    /// Expected packet loss in percent (0..=100), a hint for how much in-band FEC to add.
    pub packet_loss_perc: i32,
}

impl Default for CaptureConfig {
    fn default() -> CaptureConfig {
        CaptureConfig {
            frame: FrameDuration::Ms20,
            gain_db: 0.0,
            noise_suppression: true,
            mode: TransmitMode::VoiceActivation,
            vad_probability: 0.6,
            vad_level_dbfs: -45.0,
            hangover_ms: 300,
            bitrate: 32_000,
            packet_loss_perc: 10,
        }
    }
}

/// A level reading of one frame, after gain.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Level {
    /// RMS level in dBFS (floor −100).
    pub rms_dbfs: f32,
    /// Peak level in dBFS (floor −100).
    pub peak_dbfs: f32,
}

/// One Opus packet, to be sent unchanged to every peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedFrame {
    /// The Opus packet.
    pub data: Vec<u8>,
    /// RTP timestamp (48 kHz clock, starting at 0) of the packet's first sample. It counts
    /// every frame processed, sent or not, as RTP requires across silence.
    pub timestamp: u32,
    /// Samples the packet covers.
    pub samples: u32,
}

/// What the pipeline made of one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureFrame {
    /// The packet to send, or `None` when not transmitting (muted, push-to-talk released,
    /// no voice) or when Opus DTX says the frame need not be sent.
    pub packet: Option<EncodedFrame>,
    /// Level meter reading.
    pub level: Level,
    /// RNNoise's voice probability for the frame (the largest over its 10 ms parts), or
    /// `None` with noise suppression off.
    pub vad_probability: Option<f32>,
    /// `Some(new_state)` when the speaking state changed with this frame.
    pub speaking_changed: Option<bool>,
}

/// The send-side state machine. See the [module documentation](self).
pub struct CapturePipeline {
    config: CaptureConfig,
    gain: f32,
    denoiser: Box<DenoiseState<'static>>,
    encoder: Encoder,
    // Preallocated so that processing a frame allocates only the packet it returns.
    work: Vec<f32>,
    scratch_in: [f32; SAMPLES_PER_10MS],
    scratch_out: [f32; SAMPLES_PER_10MS],
    packet_buf: Vec<u8>,
    hangover_left: u32,
    push_to_talk: bool,
    muted: bool,
    speaking: bool,
    timestamp: u32,
}

/// Opus packets for one mono 20 ms frame never approach this; 1275 bytes is libopus's
/// largest single frame.
const MAX_PACKET: usize = 1500;

/// Opus packets of this size or less are DTX frames: the encoder says nothing changed, and
/// RFC 7587 lets the sender skip them.
const DTX_PACKET_MAX: usize = 2;

impl CapturePipeline {
    /// A pipeline with `config`, its encoder set up for VoIP with in-band FEC and DTX.
    pub fn new(config: CaptureConfig) -> Result<CapturePipeline, MediaError> {
        let mut encoder = Encoder::new(SAMPLE_RATE, Channels::Mono, Application::Voip)?;
        encoder.set_inband_fec(true)?;
        encoder.set_dtx(true)?;
        let mut pipeline = CapturePipeline {
            gain: 1.0,
            denoiser: DenoiseState::new(),
            encoder,
            work: vec![0.0; config.frame.samples()],
            scratch_in: [0.0; SAMPLES_PER_10MS],
            scratch_out: [0.0; SAMPLES_PER_10MS],
            packet_buf: vec![0; MAX_PACKET],
            hangover_left: 0,
            push_to_talk: false,
            muted: false,
            speaking: false,
            timestamp: 0,
            config: config.clone(),
        };
        pipeline.set_gain_db(config.gain_db);
        pipeline.set_bitrate(config.bitrate)?;
        pipeline.set_packet_loss_perc(config.packet_loss_perc)?;
        Ok(pipeline)
    }

    /// Samples each call to [`CapturePipeline::process`] expects.
    pub fn frame_samples(&self) -> usize {
        self.config.frame.samples()
    }

    /// The current settings.
    pub fn config(&self) -> &CaptureConfig {
        &self.config
    }

    /// Sets the input gain in dB.
    pub fn set_gain_db(&mut self, gain_db: f32) {
        self.config.gain_db = gain_db;
        self.gain = 10f32.powf(gain_db / 20.0);
    }

    /// Sets the Opus bitrate in bits per second (libopus accepts 500..=512000).
    pub fn set_bitrate(&mut self, bits_per_second: i32) -> Result<(), MediaError> {
        self.encoder.set_bitrate(Bitrate::Bits(bits_per_second))?;
        self.config.bitrate = bits_per_second;
        Ok(())
    }

    /// Sets the expected packet loss (0..=100 %), for example from RTCP receiver reports.
    pub fn set_packet_loss_perc(&mut self, percent: i32) -> Result<(), MediaError> {
        self.encoder.set_packet_loss_perc(percent)?;
        self.config.packet_loss_perc = percent;
        Ok(())
    }

    /// Turns noise suppression on or off.
    pub fn set_noise_suppression(&mut self, on: bool) {
        self.config.noise_suppression = on;
    }

    /// Switches between voice activation and push-to-talk.
    pub fn set_mode(&mut self, mode: TransmitMode) {
        self.config.mode = mode;
    }

    /// Applies new settings to the running pipeline, keeping what a call depends on: the
    /// RTP timestamp keeps counting (a receiver would take a jump back for old packets), and
    /// self mute, the push-to-talk key and the speaking state stay as they are. A new frame
    /// length needs no new encoder (Opus takes 10 and 20 ms frames alike), only a new work
    /// buffer; the next [`CapturePipeline::process`] expects the new length.
    pub fn reconfigure(&mut self, config: CaptureConfig) -> Result<(), MediaError> {
        self.set_bitrate(config.bitrate)?;
        self.set_packet_loss_perc(config.packet_loss_perc)?;
        self.set_gain_db(config.gain_db);
        if config.frame != self.config.frame {
            self.work = vec![0.0; config.frame.samples()];
            // The hangover is counted in frames of the old length; start it afresh.
            self.hangover_left = 0;
        }
        self.config = config;
        Ok(())
    }

    /// Whether the push-to-talk key is held; only matters in [`TransmitMode::PushToTalk`].
    pub fn set_push_to_talk(&mut self, pressed: bool) {
        self.push_to_talk = pressed;
    }

    /// Self mute: nothing is sent and the user is not speaking; the meter still works so the
    /// user can check the microphone.
    pub fn set_muted(&mut self, muted: bool) {
        self.muted = muted;
    }

    /// Whether the user currently counts as speaking (what peers see as the speaking ring).
    pub fn speaking(&self) -> bool {
        self.speaking
    }

    /// Processes one frame of exactly [`CapturePipeline::frame_samples`] samples.
    pub fn process(&mut self, pcm: &[f32]) -> Result<CaptureFrame, MediaError> {
        let n = self.frame_samples();
        if pcm.len() != n {
            return Err(MediaError::FrameSize {
                expected: n,
                got: pcm.len(),
            });
        }
        let timestamp = self.timestamp;
        self.timestamp = self.timestamp.wrapping_add(n as u32);

        for (w, &x) in self.work.iter_mut().zip(pcm) {
            *w = (x * self.gain).clamp(-1.0, 1.0);
        }
        let level = Level {
            rms_dbfs: to_dbfs(rms(&self.work)),
            peak_dbfs: to_dbfs(peak(&self.work)),
        };

        let vad_probability = if self.config.noise_suppression {
            let mut max_probability = 0.0f32;
            for part in self.work.chunks_exact_mut(SAMPLES_PER_10MS) {
                // RNNoise works on 16-bit-scaled floats.
                for (s, &x) in self.scratch_in.iter_mut().zip(part.iter()) {
                    *s = x * 32768.0;
                }
                let p = self
                    .denoiser
                    .process_frame(&mut self.scratch_out, &self.scratch_in);
                max_probability = max_probability.max(p);
                for (x, &s) in part.iter_mut().zip(self.scratch_out.iter()) {
                    *x = (s / 32768.0).clamp(-1.0, 1.0);
                }
            }
            Some(max_probability)
        } else {
            None
        };

        let voiced = match vad_probability {
            Some(p) => p >= self.config.vad_probability,
            None => level.rms_dbfs >= self.config.vad_level_dbfs,
        };
        let hangover_frames = self.config.hangover_ms.div_ceil((n / 48) as u32);
        if voiced {
            self.hangover_left = hangover_frames;
        } else {
            self.hangover_left = self.hangover_left.saturating_sub(1);
        }
        let voice_active = voiced || self.hangover_left > 0;
        let transmit = !self.muted
            && match self.config.mode {
                TransmitMode::VoiceActivation => voice_active,
                TransmitMode::PushToTalk => self.push_to_talk,
            };
        let speaking_changed = (transmit != self.speaking).then_some(transmit);
        self.speaking = transmit;

        let packet = if transmit {
            let len = self
                .encoder
                .encode_float(&self.work, &mut self.packet_buf)?;
            (len > DTX_PACKET_MAX).then(|| EncodedFrame {
                data: self.packet_buf[..len].to_vec(),
                timestamp,
                samples: n as u32,
            })
        } else {
            None
        };
        Ok(CaptureFrame {
            packet,
            level,
            vad_probability,
            speaking_changed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AudioSource, Sine};

    fn tone(samples: usize) -> Vec<f32> {
        let mut out = vec![0.0; samples];
        Sine::new(SAMPLE_RATE, 440.0, 0.3).read(&mut out).unwrap();
        out
    }

    #[test]
    fn reconfigure_changes_the_frame_and_keeps_the_timestamp_and_mute() {
        let mut pipeline = CapturePipeline::new(CaptureConfig {
            noise_suppression: false,
            ..CaptureConfig::default()
        })
        .unwrap();
        let first = pipeline.process(&tone(960)).unwrap();
        assert_eq!(first.packet.map(|p| p.timestamp), Some(0));
        pipeline.set_muted(true);
        pipeline
            .reconfigure(CaptureConfig {
                frame: FrameDuration::Ms10,
                noise_suppression: false,
                ..CaptureConfig::default()
            })
            .unwrap();
        assert_eq!(pipeline.frame_samples(), 480);
        assert!(
            pipeline.process(&tone(960)).is_err(),
            "the old length is refused"
        );
        let muted = pipeline.process(&tone(480)).unwrap();
        assert!(muted.packet.is_none(), "still muted after reconfiguring");
        pipeline.set_muted(false);
        let next = pipeline.process(&tone(480)).unwrap();
        assert_eq!(
            next.packet.map(|p| (p.timestamp, p.samples)),
            Some((960 + 480, 480)),
            "timestamps go on counting from before the change"
        );
    }

    #[test]
    fn reconfigure_to_push_to_talk_stops_transmitting_until_the_key() {
        let mut pipeline = CapturePipeline::new(CaptureConfig::default()).unwrap();
        // Voice activation with noise suppression: a steady tone is not voice to RNNoise, so
        // use the level detector.
        pipeline
            .reconfigure(CaptureConfig {
                noise_suppression: false,
                ..CaptureConfig::default()
            })
            .unwrap();
        assert_eq!(
            pipeline.process(&tone(960)).unwrap().speaking_changed,
            Some(true)
        );
        pipeline
            .reconfigure(CaptureConfig {
                noise_suppression: false,
                mode: TransmitMode::PushToTalk,
                ..CaptureConfig::default()
            })
            .unwrap();
        let released = pipeline.process(&tone(960)).unwrap();
        assert_eq!(released.speaking_changed, Some(false));
        assert!(released.packet.is_none());
        pipeline.set_push_to_talk(true);
        let held = pipeline.process(&tone(960)).unwrap();
        assert_eq!(held.speaking_changed, Some(true));
        assert!(held.packet.is_some());
        pipeline.reconfigure(CaptureConfig::default()).unwrap();
        assert!(
            pipeline.config().noise_suppression,
            "noise suppression back on"
        );
    }
}
