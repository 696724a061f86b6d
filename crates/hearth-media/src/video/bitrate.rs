//! A loss-based send bitrate controller, after the loss controller of Google Congestion
//! Control: receivers report the fraction of packets lost; heavy loss cuts the rate in
//! proportion, light loss lets it grow slowly, and loss in between holds it.

use std::time::Duration;

/// Limits and the starting point of a [`BitrateController`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BitrateConfig {
    /// Starting bitrate in kbps (clamped into `min..=max`).
    pub start_kbps: u32,
    /// Floor in kbps.
    pub min_kbps: u32,
    /// Ceiling in kbps.
    pub max_kbps: u32,
}

impl Default for BitrateConfig {
    fn default() -> Self {
        Self {
            start_kbps: 300,
            min_kbps: 50,
            max_kbps: 1500,
        }
    }
}

/// Loss above this cuts the rate.
const HIGH_LOSS: f32 = 0.10;
/// Loss below this lets the rate grow.
const LOW_LOSS: f32 = 0.02;
/// Growth per second of low loss.
const GROWTH_PER_SEC: f64 = 1.08;
/// A report that repeats the loss a cut already answered must not cut again at once: the
/// loss of the old rate is still in flight. GCC waits about an RTT plus 300 ms.
const MIN_CUT_INTERVAL: Duration = Duration::from_millis(300);

/// The controller. Pure: time comes in with each report.
#[derive(Clone, Debug)]
pub struct BitrateController {
    config: BitrateConfig,
    rate: f64,
    last_report: Option<Duration>,
    last_cut: Option<Duration>,
}

impl BitrateController {
    /// A controller at `config.start_kbps`. `min_kbps` above `max_kbps` is treated as
    /// `max_kbps` for both.
    pub fn new(config: BitrateConfig) -> Self {
        let min = config.min_kbps.min(config.max_kbps);
        let config = BitrateConfig {
            min_kbps: min,
            ..config
        };
        let rate = f64::from(config.start_kbps.clamp(min, config.max_kbps));
        Self {
            config,
            rate,
            last_report: None,
            last_cut: None,
        }
    }

    /// The current target in kbps.
    pub fn bitrate_kbps(&self) -> u32 {
        self.rate.round() as u32
    }

    /// Takes one loss report (`fraction_lost` in 0..=1, as in an RTCP receiver report; NaN
    /// or out of range values are clamped, NaN counts as no information) received at `now`
    /// and returns the new target in kbps.
    pub fn handle_loss(&mut self, now: Duration, fraction_lost: f32) -> u32 {
        let elapsed = self
            .last_report
            .map_or(Duration::ZERO, |last| now.saturating_sub(last));
        self.last_report = Some(now.max(self.last_report.unwrap_or(now)));
        if fraction_lost.is_nan() {
            return self.bitrate_kbps();
        }
        let loss = fraction_lost.clamp(0.0, 1.0);
        if loss > HIGH_LOSS {
            let may_cut = self
                .last_cut
                .is_none_or(|cut| now.saturating_sub(cut) >= MIN_CUT_INTERVAL);
            if may_cut {
                self.rate *= 1.0 - 0.5 * f64::from(loss);
                self.last_cut = Some(now);
            }
        } else if loss < LOW_LOSS {
            // Growth is per second of elapsed time, so it does not depend on how often
            // receivers report; a long silence cannot jump more than 1 s worth at once.
            let secs = elapsed.as_secs_f64().min(1.0);
            self.rate *= GROWTH_PER_SEC.powf(secs);
        }
        self.rate = self.rate.clamp(
            f64::from(self.config.min_kbps),
            f64::from(self.config.max_kbps),
        );
        self.bitrate_kbps()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn heavy_loss_cuts_in_proportion() {
        let mut c = BitrateController::new(BitrateConfig {
            start_kbps: 1000,
            min_kbps: 50,
            max_kbps: 2000,
        });
        assert_eq!(c.handle_loss(ms(0), 0.2), 900);
        // Too soon for another cut.
        assert_eq!(c.handle_loss(ms(100), 0.2), 900);
        assert_eq!(c.handle_loss(ms(400), 0.5), 675);
    }

    #[test]
    fn low_loss_grows_about_8_percent_per_second_up_to_max() {
        let mut c = BitrateController::new(BitrateConfig {
            start_kbps: 1000,
            min_kbps: 50,
            max_kbps: 1200,
        });
        c.handle_loss(ms(0), 0.0);
        for i in 1..=10 {
            c.handle_loss(ms(i * 100), 0.01);
        }
        let after_1s = c.bitrate_kbps();
        assert!((1075..=1085).contains(&after_1s), "{after_1s}");
        for i in 11..=100 {
            c.handle_loss(ms(i * 100), 0.0);
        }
        assert_eq!(c.bitrate_kbps(), 1200);
    }

    #[test]
    fn moderate_loss_holds() {
        let mut c = BitrateController::new(BitrateConfig::default());
        for i in 0..50 {
            assert_eq!(c.handle_loss(ms(i * 200), 0.05), 300);
        }
    }

    #[test]
    fn floor_and_odd_inputs() {
        let mut c = BitrateController::new(BitrateConfig {
            start_kbps: 100,
            min_kbps: 80,
            max_kbps: 500,
        });
        for i in 0..20 {
            c.handle_loss(ms(i * 1000), 1.0);
        }
        assert_eq!(c.bitrate_kbps(), 80);
        assert_eq!(c.handle_loss(ms(30_000), f32::NAN), 80);
        assert_eq!(c.handle_loss(ms(10), -3.0), 80); // time going back does not panic
    }
}
