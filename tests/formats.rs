//! The output formats people already read, from a real run: `.hlog` readable back, `report.json`
//! valid against its schema, `.hgrm` files and charts written (the `.hgrm` bytes against Java's
//! are unit tests in `src/report/hgrm.rs`).

use std::time::Duration;

use asyncbench::model::hist;
use asyncbench::model::report::RunReport;
use asyncbench::model::strategy::Strategy;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use mock_server::Profile;

use crate::util::config;

/// A real run writes report.json (valid against schema/report.schema.json), summary.csv, one
/// .hgrm per strategy, run.hlog whose histograms read back to the same counts, and SVG + PNG
/// charts; `plot` redraws the charts from report.json alone.
#[test]
fn a_run_writes_every_format_and_they_read_back() {
    // Arrange
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let mut cfg = config(
        &[Strategy::Async, Strategy::Threadpool],
        40,
        Profile::fixed(Duration::from_millis(5)),
    );
    cfg.out = Some(dir.clone());
    // Act
    let report = asyncbench::compare(&cfg).unwrap();
    // Assert: the schema.
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../schema/report.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&json)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(RunReport::read(&dir.join("report.json")).unwrap(), report);
    // The encoded histograms decode to the reported counts.
    for s in &report.strategies {
        let h = hist::decode(&s.histograms["e2e.ok"]).unwrap();
        assert_eq!(h.len(), 40);
        assert!(dir.join(format!("{}.hgrm", s.id)).exists());
    }
    // The interval log: every interval histogram decodes, tags name strategy and series, and the
    // e2e.ok counts add up to the requests.
    let log = std::fs::read(dir.join("run.hlog")).unwrap();
    assert!(log.starts_with(b"#[Histogram log format version 1.3]\n#[StartTime: "));
    let mut e2e = std::collections::BTreeMap::<String, u64>::new();
    for entry in IntervalLogIterator::new(&log) {
        if let LogEntry::Interval(i) = entry.unwrap() {
            assert!(i.encoded_histogram().starts_with("HISTF"));
            let bytes = base64_decode(i.encoded_histogram());
            let h: Histogram<u64> = Deserializer::new().deserialize(&mut &bytes[..]).unwrap();
            let tag = i.tag().unwrap().as_str().to_owned();
            if tag.ends_with(".e2e.ok") {
                *e2e.entry(tag).or_default() += h.len();
                // Nanoseconds, for the Java tools' default unit ratio: a 5 ms request is ≥ 5e6.
                assert!(h.min() >= 5_000_000, "{}", h.min());
            }
        }
    }
    assert_eq!(e2e.get("async.e2e.ok"), Some(&40));
    assert_eq!(e2e.get("threadpool.e2e.ok"), Some(&40));
    for chart in ["throughput", "latency"] {
        for ext in ["svg", "png"] {
            let p = dir.join(format!("{chart}.{ext}"));
            assert!(
                std::fs::metadata(&p).map(|m| m.len() > 1000).unwrap_or(false),
                "{}",
                p.display()
            );
        }
    }
    std::fs::remove_file(dir.join("latency.png")).unwrap();
    let redrawn = asyncbench::internals::plot_dir(&dir).unwrap();
    assert!(redrawn.contains(&dir.join("latency.png")));
}

/// `<strategy>.hgrm` is the end-to-end latency from the intended start, `.service.hgrm` the
/// service time: an open loop the client cannot keep up with (sequential at 200/s against 10 ms)
/// makes them differ tenfold, and each file's Max and count are its series'.
#[test]
fn the_hgrm_files_hold_end_to_end_and_service_time() {
    // Arrange
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let mut cfg = config(
        &[Strategy::Sequential],
        40,
        Profile::fixed(Duration::from_millis(10)),
    );
    cfg.load = asyncbench::model::plan::Load::Open {
        rate: 200.0,
        arrival: asyncbench::model::plan::Arrival::Constant,
        seed: 1,
    };
    cfg.out = Some(dir.clone());
    // Act
    let report = asyncbench::compare(&cfg).unwrap();
    // Assert
    let s = &report.strategies[0];
    let (e2e, service) = (s.latency_ms.unwrap(), s.service_ms.unwrap());
    // 40 requests due over 0.2 s, each taking 10 ms or more, one at a time: the last waits.
    assert!(e2e.max >= 5.0 * service.max, "e2e {e2e:?} service {service:?}");
    let footer = |file: &str| {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let line = text.lines().find(|l| l.starts_with("#[Max")).unwrap().to_owned();
        let num = |key: &str| -> f64 {
            let rest = &line[line.find(key).unwrap() + key.len()..];
            rest.trim_start_matches([' ', '='])
                .split([',', ']'])
                .next()
                .unwrap()
                .trim()
                .parse()
                .unwrap()
        };
        (num("Max"), num("Total count"))
    };
    let (max, count) = footer("sequential.hgrm");
    assert!(
        (max - e2e.max).abs() <= 0.01 * e2e.max,
        "{max} vs e2e max {}",
        e2e.max
    );
    assert_eq!(count, 40.0);
    let (max, count) = footer("sequential.service.hgrm");
    assert!(
        (max - service.max).abs() <= 0.01 * service.max,
        "{max} vs service max {}",
        service.max
    );
    assert_eq!(count, 40.0);
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}
