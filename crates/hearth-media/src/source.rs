//! Where samples come from and where they go, behind two small traits, plus the synthetic
//! generators, WAV files and the resampler that brings anything to 48 kHz mono.
//!
//! Every source and sink is mono `f32` in −1.0..=1.0; a source states its own sample rate,
//! and [`LinearResampler`] converts. Synthetic sources count samples instead of reading a
//! clock, so the same source gives the same samples in every run.

use std::f64::consts::TAU;
use std::path::Path;

use crate::{MediaError, SAMPLE_RATE};

/// A producer of mono `f32` samples at a fixed rate.
pub trait AudioSource {
    /// Samples per second of what [`AudioSource::read`] returns.
    fn sample_rate(&self) -> u32;
    /// Fills the start of `buf` and returns how many samples were written. Zero means the
    /// source has ended; synthetic sources never end.
    fn read(&mut self, buf: &mut [f32]) -> Result<usize, MediaError>;
}

/// A consumer of mono `f32` samples at a fixed rate.
pub trait AudioSink {
    /// Samples per second that [`AudioSink::write`] expects.
    fn sample_rate(&self) -> u32;
    /// Takes all of `samples`.
    fn write(&mut self, samples: &[f32]) -> Result<(), MediaError>;
}

/// A sine tone of fixed frequency and amplitude.
#[derive(Debug, Clone)]
pub struct Sine {
    sample_rate: u32,
    frequency: f64,
    amplitude: f32,
    // Counting samples (not accumulating a phase) keeps the tone exact over hours.
    position: u64,
}

impl Sine {
    /// A tone of `frequency` Hz and peak `amplitude` (0..=1) at `sample_rate`.
    pub fn new(sample_rate: u32, frequency: f32, amplitude: f32) -> Sine {
        Sine {
            sample_rate,
            frequency: f64::from(frequency),
            amplitude,
            position: 0,
        }
    }
}

impl AudioSource for Sine {
    fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    fn read(&mut self, buf: &mut [f32]) -> Result<usize, MediaError> {
        let rate = f64::from(self.sample_rate.max(1));
        for out in buf.iter_mut() {
            // Reducing the sample index modulo one period keeps the argument small.
            let t = (self.position as f64 * self.frequency / rate).fract();
            *out = self.amplitude * (TAU * t).sin() as f32;
            self.position += 1;
        }
        Ok(buf.len())
    }
}

/// A train of short clicks at a fixed period, for measuring latency: play it, capture the
/// result, and find the delay with [`crate::analysis::find_delay`].
///
/// Each click is a 5 ms burst of 2 kHz under a Hann window rather than a single-sample
/// impulse, because Opus and resamplers smear impulses but keep a short tone burst intact.
#[derive(Debug, Clone)]
pub struct ClickTrain {
    sample_rate: u32,
    period: u64,
    amplitude: f32,
    position: u64,
}

impl ClickTrain {
    /// Clicks every `period_samples` samples (at least one click length), starting at sample 0.
    pub fn new(sample_rate: u32, period_samples: u64, amplitude: f32) -> ClickTrain {
        let period = period_samples.max(Self::click_len(sample_rate));
        ClickTrain {
            sample_rate,
            period,
            amplitude,
            position: 0,
        }
    }

    /// Samples in one click at `sample_rate` (5 ms).
    pub fn click_len(sample_rate: u32) -> u64 {
        (u64::from(sample_rate) / 200).max(1)
    }
}

impl AudioSource for ClickTrain {
    fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    fn read(&mut self, buf: &mut [f32]) -> Result<usize, MediaError> {
        let len = Self::click_len(self.sample_rate);
        let rate = f64::from(self.sample_rate.max(1));
        for out in buf.iter_mut() {
            let i = self.position % self.period;
            *out = if i < len {
                let window = 0.5 - 0.5 * (TAU * i as f64 / len as f64).cos();
                (f64::from(self.amplitude) * window * (TAU * 2000.0 * i as f64 / rate).sin()) as f32
            } else {
                0.0
            };
            self.position += 1;
        }
        Ok(buf.len())
    }
}

/// Endless silence.
#[derive(Debug, Clone)]
pub struct Silence {
    sample_rate: u32,
}

impl Silence {
    /// Silence at `sample_rate`.
    pub fn new(sample_rate: u32) -> Silence {
        Silence { sample_rate }
    }
}

impl AudioSource for Silence {
    fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    fn read(&mut self, buf: &mut [f32]) -> Result<usize, MediaError> {
        buf.fill(0.0);
        Ok(buf.len())
    }
}

/// A WAV file, read whole at open, mixed down to mono and resampled to 48 kHz.
///
/// Reading it all up front keeps `read` free of IO errors and of work; the files this is
/// for (test signals, notification sounds) are small.
#[derive(Debug, Clone)]
pub struct WavSource {
    samples: Vec<f32>,
    position: usize,
}

impl WavSource {
    /// Opens and decodes `path` (integer or float PCM, any channel count and rate).
    pub fn open(path: impl AsRef<Path>) -> Result<WavSource, MediaError> {
        let mut reader = hound::WavReader::open(path)?;
        let spec = reader.spec();
        if spec.channels == 0 || spec.sample_rate == 0 {
            return Err(MediaError::Format(format!(
                "WAV with {} channels at {} Hz",
                spec.channels, spec.sample_rate
            )));
        }
        let interleaved: Vec<f32> = match spec.sample_format {
            hound::SampleFormat::Float => reader.samples::<f32>().collect::<Result<_, _>>()?,
            hound::SampleFormat::Int => {
                let scale = 1.0 / (1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f32;
                reader
                    .samples::<i32>()
                    .map(|s| s.map(|s| s as f32 * scale))
                    .collect::<Result<_, _>>()?
            }
        };
        let mut mono = Vec::with_capacity(interleaved.len() / usize::from(spec.channels));
        downmix(&interleaved, spec.channels, |x| mono.push(x));
        let mut samples =
            Vec::with_capacity(mono.len() * SAMPLE_RATE as usize / spec.sample_rate as usize + 2);
        let mut resampler = LinearResampler::new(spec.sample_rate, SAMPLE_RATE)?;
        resampler.process(&mono, |x| samples.push(x));
        Ok(WavSource {
            samples,
            position: 0,
        })
    }

    /// The whole file at 48 kHz mono.
    pub fn samples(&self) -> &[f32] {
        &self.samples
    }
}

impl AudioSource for WavSource {
    fn sample_rate(&self) -> u32 {
        SAMPLE_RATE
    }

    fn read(&mut self, buf: &mut [f32]) -> Result<usize, MediaError> {
        let rest = &self.samples[self.position..];
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.position += n;
        Ok(n)
    }
}

/// A mono 32-bit float WAV file being written.
pub struct WavSink {
    writer: hound::WavWriter<std::io::BufWriter<std::fs::File>>,
    sample_rate: u32,
}

impl WavSink {
    /// Creates (or truncates) `path` for mono float samples at `sample_rate`.
    pub fn create(path: impl AsRef<Path>, sample_rate: u32) -> Result<WavSink, MediaError> {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        };
        Ok(WavSink {
            writer: hound::WavWriter::create(path, spec)?,
            sample_rate,
        })
    }

    /// Writes the header's final lengths. Dropping the sink does this too but cannot report
    /// a failure, so call this when the file matters.
    pub fn finalize(self) -> Result<(), MediaError> {
        Ok(self.writer.finalize()?)
    }
}

impl AudioSink for WavSink {
    fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    fn write(&mut self, samples: &[f32]) -> Result<(), MediaError> {
        for &x in samples {
            self.writer.write_sample(x)?;
        }
        Ok(())
    }
}

/// Averages interleaved frames of `channels` samples into mono, one call of `emit` per
/// frame. An incomplete last frame is ignored.
pub fn downmix(interleaved: &[f32], channels: u16, mut emit: impl FnMut(f32)) {
    let channels = usize::from(channels.max(1));
    if channels == 1 {
        interleaved.iter().for_each(|&x| emit(x));
        return;
    }
    let scale = 1.0 / channels as f32;
    for frame in interleaved.chunks_exact(channels) {
        emit(frame.iter().sum::<f32>() * scale);
    }
}

/// A streaming linear-interpolation resampler for mono audio.
///
/// Linear interpolation is enough for voice going into a 16–24 kHz-band codec and costs a
/// multiply per output sample; it keeps state between calls so chunk boundaries are
/// seamless, and emits through a closure so it never allocates (it runs beside the audio
/// callbacks).
#[derive(Debug, Clone)]
pub struct LinearResampler {
    step: f64,
    // Position of the next output sample, in input samples after `previous`.
    t: f64,
    previous: f32,
    passthrough: bool,
}

impl LinearResampler {
    /// Converts from `from_rate` to `to_rate` (both non-zero and at most 1 MHz).
    pub fn new(from_rate: u32, to_rate: u32) -> Result<LinearResampler, MediaError> {
        let valid = 1..=1_000_000;
        if !valid.contains(&from_rate) || !valid.contains(&to_rate) {
            return Err(MediaError::Format(format!(
                "resampling {from_rate} Hz to {to_rate} Hz"
            )));
        }
        Ok(LinearResampler {
            step: f64::from(from_rate) / f64::from(to_rate),
            t: 1.0,
            previous: 0.0,
            passthrough: from_rate == to_rate,
        })
    }

    /// Feeds `input` and emits every output sample it completes.
    pub fn process(&mut self, input: &[f32], mut emit: impl FnMut(f32)) {
        if self.passthrough {
            input.iter().for_each(|&x| emit(x));
            return;
        }
        for &x in input {
            while self.t <= 1.0 {
                emit(self.previous + (x - self.previous) * self.t as f32);
                self.t += self.step;
            }
            self.t -= 1.0;
            self.previous = x;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{rms, tone_ratio};

    fn read_all(source: &mut impl AudioSource, n: usize) -> Vec<f32> {
        let mut buf = vec![0.0; n];
        let got = source.read(&mut buf).unwrap();
        buf.truncate(got);
        buf
    }

    #[test]
    fn sine_has_its_frequency_and_amplitude() {
        let s = read_all(&mut Sine::new(48_000, 440.0, 0.5), 48_000);
        assert!((rms(&s) - 0.5 / 2f32.sqrt()).abs() < 1e-3);
        assert!(tone_ratio(&s, 48_000, 440.0) > 0.45);
    }

    #[test]
    fn click_train_repeats_at_its_period() {
        let s = read_all(&mut ClickTrain::new(48_000, 4800, 0.9), 9600);
        assert!(rms(&s[..240]) > 0.2);
        assert_eq!(rms(&s[240..4800]), 0.0);
        assert_eq!(&s[..240], &s[4800..5040]);
    }

    #[test]
    fn resampler_keeps_length_and_tone() {
        for from in [44_100u32, 16_000, 96_000, 48_000] {
            let input = read_all(&mut Sine::new(from, 1000.0, 0.5), from as usize);
            let mut r = LinearResampler::new(from, 48_000).unwrap();
            let mut out = Vec::new();
            // Odd chunk sizes check that state carries over between calls.
            for chunk in input.chunks(333) {
                r.process(chunk, |x| out.push(x));
            }
            assert!(
                (out.len() as i64 - 48_000).abs() <= 2,
                "{from}: {}",
                out.len()
            );
            assert!(tone_ratio(&out[100..], 48_000, 1000.0) > 0.45, "{from}");
        }
        assert!(LinearResampler::new(0, 48_000).is_err());
    }

    #[test]
    fn downmix_averages_channels() {
        let mut out = Vec::new();
        downmix(&[1.0, 0.0, 0.5, 0.5, 9.0], 2, |x| out.push(x));
        assert_eq!(out, [0.5, 0.5]);
    }
}
