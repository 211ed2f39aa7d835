//! Percentiles of measured durations, and the report a scenario prints.

use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};

/// Nearest-rank percentiles of a sample, in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Percentiles {
    pub n: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Percentiles {
    pub fn of(samples: &[Duration]) -> Percentiles {
        let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        let at = |q: f64| -> f64 {
            if ms.is_empty() {
                return 0.0;
            }
            let rank = ((q * ms.len() as f64).ceil() as usize).clamp(1, ms.len());
            ms[rank - 1]
        };
        Percentiles {
            n: ms.len(),
            p50_ms: at(0.50),
            p95_ms: at(0.95),
            p99_ms: at(0.99),
            max_ms: ms.last().copied().unwrap_or(0.0),
        }
    }

    pub fn line(&self) -> String {
        format!(
            "p50 {:.1} ms  p95 {:.1} ms  p99 {:.1} ms  max {:.1} ms  (n={})",
            self.p50_ms, self.p95_ms, self.p99_ms, self.max_ms, self.n
        )
    }
}

/// What a scenario measured and whether its invariants held.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub scenario: String,
    pub seed: u64,
    pub nodes: usize,
    /// Measured figures, in the order they were added.
    pub figures: Map<String, Value>,
    /// Invariants that broke; empty when the run passed.
    pub failures: Vec<String>,
    #[serde(skip)]
    lines: Vec<(String, String)>,
}

impl Report {
    pub fn new(scenario: &str, seed: u64, nodes: usize) -> Report {
        Report {
            scenario: scenario.into(),
            seed,
            nodes,
            figures: Map::new(),
            failures: Vec::new(),
            lines: Vec::new(),
        }
    }

    /// Adds a figure: shown as `text` in the table, as `value` in JSON.
    pub fn figure(&mut self, key: &str, value: impl Serialize, text: impl Into<String>) {
        let v = serde_json::to_value(value).unwrap_or(Value::Null);
        self.figures.insert(key.into(), v);
        self.lines.push((key.into(), text.into()));
    }

    pub fn timing(&mut self, key: &str, samples: &[Duration]) -> Percentiles {
        let p = Percentiles::of(samples);
        self.figure(key, &p, p.line());
        p
    }

    /// Records a broken invariant (the run will exit non-zero).
    pub fn fail(&mut self, what: impl Into<String>) {
        self.failures.push(what.into());
    }

    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    pub fn print(&self, json: bool) {
        if json {
            println!("{}", serde_json::to_string_pretty(self).unwrap_or_default());
            return;
        }
        println!(
            "scenario {}  nodes {}  seed {}",
            self.scenario, self.nodes, self.seed
        );
        let width = self.lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        for (k, v) in &self.lines {
            println!("  {k:width$}  {v}");
        }
        if self.failures.is_empty() {
            println!("PASSED");
        } else {
            for f in &self.failures {
                println!("FAILED: {f}");
            }
            println!("rerun with --seed {}", self.seed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let p = Percentiles::of(&samples);
        assert_eq!(p.n, 100);
        assert!((p.p50_ms - 50.0).abs() < 1e-9);
        assert!((p.p95_ms - 95.0).abs() < 1e-9);
        assert!((p.p99_ms - 99.0).abs() < 1e-9);
        assert!((p.max_ms - 100.0).abs() < 1e-9);
        let one = Percentiles::of(&[Duration::from_millis(7)]);
        assert!((one.p99_ms - 7.0).abs() < 1e-9);
        assert_eq!(Percentiles::of(&[]).n, 0);
    }
}
