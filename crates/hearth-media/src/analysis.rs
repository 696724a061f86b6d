//! Signal analysis for tests and benchmarks: tone detection with the Goertzel filter, levels,
//! and the delay of a click train found by cross-correlation.
//!
//! These functions are public so that other crates' tests (the peer crate, the client) can
//! check audio that went through the whole pipeline without reimplementing them.

use std::f32::consts::PI;

/// The power of `frequency` in `samples` (at `sample_rate`), normalised so that a full-scale
/// sine of that frequency gives about 0.25 (amplitude² / 4) whatever the length.
///
/// The Goertzel filter evaluates one DFT bin, which is all a tone detector needs and much
/// cheaper than an FFT.
pub fn goertzel_power(samples: &[f32], sample_rate: u32, frequency: f32) -> f32 {
    if samples.is_empty() || sample_rate == 0 {
        return 0.0;
    }
    let omega = 2.0 * PI * frequency / sample_rate as f32;
    let coeff = 2.0 * omega.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s0 = f64::from(x) + f64::from(coeff) * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - f64::from(coeff) * s1 * s2;
    let n = samples.len() as f64;
    (power / (n * n)) as f32
}

/// The fraction of the signal's energy that lies in the `frequency` bin: near 0.5 for a pure
/// sine at that frequency (the other half is in the mirrored bin), near 0 for other tones,
/// silence or noise. Independent of level, so it works after gain changes and codecs.
pub fn tone_ratio(samples: &[f32], sample_rate: u32, frequency: f32) -> f32 {
    let energy: f64 = samples.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
    if energy <= f64::EPSILON {
        return 0.0;
    }
    let n = samples.len() as f64;
    // Goertzel power is |X|²/n²; Parseval gives sum|X|² = n·energy, so one bin's share is
    // |X|²/(n·energy).
    (f64::from(goertzel_power(samples, sample_rate, frequency)) * n / energy) as f32
}

/// Whether `samples` contain a tone at `frequency`: at least `min_ratio` of the energy (see
/// [`tone_ratio`]) in that bin, and an RMS above `min_rms` so that near-silence never counts.
pub fn detect_tone(
    samples: &[f32],
    sample_rate: u32,
    frequency: f32,
    min_ratio: f32,
    min_rms: f32,
) -> bool {
    rms(samples) >= min_rms && tone_ratio(samples, sample_rate, frequency) >= min_ratio
}

/// Root mean square of `samples`; 0 for an empty slice.
pub fn rms(samples: &[f32]) -> f32 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum: f64 = samples.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
    (sum / samples.len() as f64).sqrt() as f32
}

/// Largest absolute sample; 0 for an empty slice.
pub fn peak(samples: &[f32]) -> f32 {
    samples.iter().fold(0.0f32, |m, &x| m.max(x.abs()))
}

/// The lowest level reported, for silence: log of zero is minus infinity, which a meter
/// cannot draw.
pub const DBFS_FLOOR: f32 = -100.0;

/// A linear amplitude in dB relative to full scale, never below [`DBFS_FLOOR`].
pub fn to_dbfs(amplitude: f32) -> f32 {
    if amplitude <= 0.0 {
        return DBFS_FLOOR;
    }
    (20.0 * amplitude.log10()).max(DBFS_FLOOR)
}

/// The lag (in samples, `0..=max_lag`) at which `captured` best matches `reference`, by
/// cross-correlation, or `None` if no lag correlates positively.
///
/// Meant for click trains: only the non-zero samples of `reference` are visited, so a sparse
/// reference over seconds of audio stays cheap even in debug builds.
pub fn find_delay(reference: &[f32], captured: &[f32], max_lag: usize) -> Option<usize> {
    let active: Vec<(usize, f32)> = reference
        .iter()
        .copied()
        .enumerate()
        .filter(|&(_, x)| x != 0.0)
        .collect();
    let mut best: Option<(usize, f64)> = None;
    for lag in 0..=max_lag {
        let score: f64 = active
            .iter()
            .filter_map(|&(i, x)| captured.get(i + lag).map(|&y| f64::from(x) * f64::from(y)))
            .sum();
        if score > 0.0 && best.is_none_or(|(_, s)| score > s) {
            best = Some((lag, score));
        }
    }
    best.map(|(lag, _)| lag)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f32, amp: f32, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| amp * (2.0 * PI * freq * i as f32 / 48_000.0).sin())
            .collect()
    }

    #[test]
    fn goertzel_finds_the_tone_and_not_its_neighbours() {
        let s = sine(1000.0, 0.5, 4800);
        assert!(tone_ratio(&s, 48_000, 1000.0) > 0.45);
        assert!(tone_ratio(&s, 48_000, 1500.0) < 0.01);
        assert!(detect_tone(&s, 48_000, 1000.0, 0.3, 0.1));
        assert!(!detect_tone(&vec![0.0; 4800], 48_000, 1000.0, 0.3, 0.1));
    }

    #[test]
    fn levels() {
        let s = sine(1000.0, 0.5, 4800);
        assert!((rms(&s) - 0.5 / 2f32.sqrt()).abs() < 1e-3);
        assert!((peak(&s) - 0.5).abs() < 1e-3);
        assert!((to_dbfs(1.0)).abs() < 1e-6);
        assert!((to_dbfs(0.5) + 6.02).abs() < 0.01);
        assert_eq!(to_dbfs(0.0), DBFS_FLOOR);
    }

    #[test]
    fn delay_of_a_shifted_click_train() {
        let mut reference = vec![0.0; 9600];
        for start in [100, 4900] {
            reference[start..start + 48].copy_from_slice(&sine(2000.0, 0.8, 48));
        }
        let mut captured = vec![0.0; 9600 + 700];
        captured[637..637 + 9600].copy_from_slice(&reference);
        assert_eq!(find_delay(&reference, &captured, 1000), Some(637));
        assert_eq!(find_delay(&reference, &vec![0.0; 100], 10), None);
    }
}
