//! Summary statistics over timed samples.

use serde::Serialize;
use std::time::Duration;

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Summary {
    pub samples: usize,
    pub median_us: f64,
    pub p99_us: f64,
    pub mean_us: f64,
}

pub fn summarise(samples: &mut [Duration]) -> Summary {
    samples.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let at = |q: f64| us(samples[((samples.len() as f64 - 1.0) * q).round() as usize]);
    let mean = samples.iter().map(|d| us(*d)).sum::<f64>() / samples.len().max(1) as f64;
    Summary {
        samples: samples.len(),
        median_us: at(0.5),
        p99_us: at(0.99),
        mean_us: mean,
    }
}

pub fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}
