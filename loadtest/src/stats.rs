//! The numbers a run reports: latency percentiles (HDR histograms, one per task,
//! merged at the end), connect-time percentiles, rates and ratios.
//!
//! Latency is recorded in microseconds with three significant digits, so a
//! percentile is exact to 0.1 %; values above [`LATENCY_MAX_MICROS`] are counted as
//! that maximum (saturated) rather than dropped, so a stall still shows in `max`.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// The largest latency a histogram distinguishes: one minute.
pub const LATENCY_MAX_MICROS: u64 = 60_000_000;

/// Latencies of delivered messages, in microseconds.
#[derive(Debug, Clone)]
pub struct Latencies {
    histogram: Histogram<u64>,
}

impl Default for Latencies {
    fn default() -> Self {
        Latencies::new()
    }
}

impl Latencies {
    /// An empty histogram (about 100 KiB: keep one per task, not per connection).
    pub fn new() -> Latencies {
        Latencies {
            histogram: Histogram::new_with_bounds(1, LATENCY_MAX_MICROS, 3)
                .expect("constant bounds: 1 <= 60e6 and 3 significant digits are valid"),
        }
    }

    /// Records one latency given in nanoseconds.
    pub fn record_nanos(&mut self, nanos: u64) {
        let micros = (nanos / 1_000).clamp(1, LATENCY_MAX_MICROS);
        self.histogram.saturating_record(micros);
    }

    /// Adds every sample of `other`.
    pub fn merge(&mut self, other: &Latencies) {
        // Same bounds on both sides: adding cannot fail.
        let _ = self.histogram.add(&other.histogram);
    }

    /// How many latencies were recorded.
    pub fn count(&self) -> u64 {
        self.histogram.len()
    }

    /// The percentiles, in milliseconds.
    pub fn summary(&self) -> LatencySummary {
        let ms = |micros: u64| micros as f64 / 1_000.0;
        if self.histogram.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            p50_ms: ms(self.histogram.value_at_quantile(0.50)),
            p95_ms: ms(self.histogram.value_at_quantile(0.95)),
            p99_ms: ms(self.histogram.value_at_quantile(0.99)),
            max_ms: ms(self.histogram.max()),
            mean_ms: self.histogram.mean() / 1_000.0,
        }
    }
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LatencySummary {
    /// Median.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest seen.
    pub max_ms: f64,
    /// Mean.
    pub mean_ms: f64,
}

/// Connect-time percentiles in milliseconds (exact: every sample is kept).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ConnectSummary {
    /// Connections that became ready.
    pub count: usize,
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest.
    pub max_ms: f64,
}

impl ConnectSummary {
    /// The percentiles of `samples` (sorted in place).
    pub fn of(samples: &mut [Duration]) -> ConnectSummary {
        samples.sort_unstable();
        let ms = |d: Duration| d.as_secs_f64() * 1_000.0;
        match samples.last() {
            None => ConnectSummary::default(),
            Some(&max) => ConnectSummary {
                count: samples.len(),
                p50_ms: ms(samples[nearest_rank(samples.len(), 0.50)]),
                p99_ms: ms(samples[nearest_rank(samples.len(), 0.99)]),
                max_ms: ms(max),
            },
        }
    }
}

/// The index of the `q` quantile among `n` sorted samples (nearest-rank method).
fn nearest_rank(n: usize, q: f64) -> usize {
    let rank = (q * n as f64).ceil() as usize;
    rank.clamp(1, n) - 1
}

/// `delivered / expected`; 1.0 when nothing was expected and nothing arrived.
pub fn delivery_ratio(delivered: u64, expected: u64) -> f64 {
    if expected == 0 {
        if delivered == 0 {
            1.0
        } else {
            f64::INFINITY
        }
    } else {
        delivered as f64 / expected as f64
    }
}

/// `count` per second over `elapsed`; 0 for an empty interval.
pub fn per_second(count: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 {
        count as f64 / secs
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_known_distribution() {
        let mut latencies = Latencies::new();
        // 1..=1000 ms, one each.
        for ms in 1..=1000u64 {
            latencies.record_nanos(ms * 1_000_000);
        }
        let s = latencies.summary();
        assert_eq!(latencies.count(), 1000);
        // Three significant digits: within 0.1 %.
        let close = |got: f64, want: f64| (got - want).abs() <= want * 0.001 + 1e-9;
        assert!(close(s.p50_ms, 500.0), "{s:?}");
        assert!(close(s.p95_ms, 950.0), "{s:?}");
        assert!(close(s.p99_ms, 990.0), "{s:?}");
        assert!(close(s.max_ms, 1000.0), "{s:?}");
        assert!(close(s.mean_ms, 500.5), "{s:?}");
    }

    #[test]
    fn merged_histograms_count_everything_and_stalls_saturate() {
        let mut a = Latencies::new();
        let mut b = Latencies::new();
        a.record_nanos(2_000_000);
        b.record_nanos(3_600 * 1_000_000_000); // an hour: saturates at one minute
        b.record_nanos(0); // below the resolution: counted as 1 µs
        a.merge(&b);
        assert_eq!(a.count(), 3);
        let s = a.summary();
        assert!((s.max_ms - 60_000.0).abs() < 60.0, "{s:?}");
        assert!(Latencies::new().summary() == LatencySummary::default());
    }

    #[test]
    fn connect_percentiles_use_nearest_rank() {
        let mut samples: Vec<Duration> = (1..=100u64).rev().map(Duration::from_millis).collect();
        let s = ConnectSummary::of(&mut samples);
        assert_eq!(s.count, 100);
        assert_eq!(s.p50_ms, 50.0);
        assert_eq!(s.p99_ms, 99.0);
        assert_eq!(s.max_ms, 100.0);
        let one = ConnectSummary::of(&mut [Duration::from_millis(7)]);
        assert_eq!((one.p50_ms, one.p99_ms, one.max_ms), (7.0, 7.0, 7.0));
        assert_eq!(ConnectSummary::of(&mut []), ConnectSummary::default());
    }

    #[test]
    fn ratios_and_rates() {
        assert_eq!(delivery_ratio(2_000, 2_000), 1.0);
        assert_eq!(delivery_ratio(1_500, 2_000), 0.75);
        assert_eq!(delivery_ratio(0, 0), 1.0);
        assert!(delivery_ratio(1, 0).is_infinite());
        assert_eq!(per_second(500, Duration::from_millis(250)), 2_000.0);
        assert_eq!(per_second(5, Duration::ZERO), 0.0);
    }
}
