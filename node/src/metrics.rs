//! `/metrics` through the `prometheus` crate: a [`Scrape`] collects one answer's metrics
//! (standing counters the node registered, and values read at scrape time from counters other
//! crates keep) and renders them in the Prometheus text format.

use actix_web::HttpResponse;
use prometheus::core::Collector;
use prometheus::{Encoder, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};

/// The metrics of one `/metrics` answer.
#[derive(Default)]
pub struct Scrape {
    registry: Registry,
}

impl Scrape {
    /// An empty scrape.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a collector the node keeps (e.g. an [`IntCounter`] it increments).
    pub fn add(&mut self, c: impl Collector + Clone + 'static) {
        // Names are fixed in code: a clash is a bug, reported once per scrape.
        if let Err(e) = self.registry.register(Box::new(c)) {
            debug_assert!(false, "metric registered twice: {e}");
        }
    }

    /// A counter whose value another crate keeps (read now).
    pub fn counter(&mut self, name: &str, help: &str, value: u64) {
        let c = IntCounter::new(name, help).expect("valid metric name");
        c.inc_by(value);
        self.add(c);
    }

    /// A counter with one label, one series per `(label value, value)`.
    pub fn counters<'a>(
        &mut self,
        name: &str,
        help: &str,
        label: &str,
        series: impl IntoIterator<Item = (&'a str, u64)>,
    ) {
        let c = IntCounterVec::new(Opts::new(name, help), &[label]).expect("valid metric name");
        for (l, v) in series {
            c.with_label_values(&[l]).inc_by(v);
        }
        self.add(c);
    }

    /// A gauge read now.
    pub fn gauge(&mut self, name: &str, help: &str, value: i64) {
        let g = IntGauge::new(name, help).expect("valid metric name");
        g.set(value);
        self.add(g);
    }

    /// A gauge with labels, one series per `(label values, value)`.
    pub fn gauges<'a>(
        &mut self,
        name: &str,
        help: &str,
        labels: &[&str],
        series: impl IntoIterator<Item = (Vec<&'a str>, i64)>,
    ) {
        let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric name");
        for (l, v) in series {
            g.with_label_values(&l).set(v);
        }
        self.add(g);
    }

    /// The Prometheus text answer.
    pub fn render(&self) -> HttpResponse {
        let encoder = prometheus::TextEncoder::new();
        let mut out = Vec::new();
        if let Err(e) = encoder.encode(&self.registry.gather(), &mut out) {
            return HttpResponse::InternalServerError().body(e.to_string());
        }
        HttpResponse::Ok()
            .content_type(encoder.format_type())
            .body(out)
    }
}

/// A counter a node keeps and increments (e.g. produce requests), registered with each
/// [`Scrape`] by [`Scrape::add`].
pub fn counter(name: &str, help: &str) -> IntCounter {
    IntCounter::new(name, help).expect("valid metric name")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_labelled_series_in_the_text_format() {
        let kept = counter("raftbus_x_total", "Kept");
        kept.inc_by(3);
        let mut s = Scrape::new();
        s.add(kept);
        s.counters(
            "raftbus_y_total",
            "Read",
            "lane",
            [("log", 1), ("state", 2)],
        );
        s.gauge("raftbus_z", "Gauge", 7);
        let mut text = Vec::new();
        prometheus::TextEncoder::new()
            .encode(&s.registry.gather(), &mut text)
            .unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(text.contains("# TYPE raftbus_x_total counter\nraftbus_x_total 3\n"));
        assert!(text.contains("raftbus_y_total{lane=\"log\"} 1\n"));
        assert!(text.contains("raftbus_y_total{lane=\"state\"} 2\n"));
        assert!(text.contains("# TYPE raftbus_z gauge\nraftbus_z 7\n"));
    }
}
