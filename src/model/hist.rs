//! Histogram encoding: HdrHistogram V2 + DEFLATE, base64 (the `HISTF…` strings Java's
//! `HistogramLogReader` and HistogramLogAnalyzer decode), and back.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};

/// Encodes a histogram as base64 V2 + DEFLATE.
pub fn encode(h: &Histogram<u64>) -> String {
    let mut buf = Vec::new();
    // Serializing into a Vec cannot fail on I/O; an internal error leaves an empty string,
    // which `decode` reports as an error rather than a wrong histogram.
    if V2DeflateSerializer::new().serialize(h, &mut buf).is_err() {
        return String::new();
    }
    STANDARD.encode(buf)
}

/// Decodes what [`encode`] wrote (or any V2 / V2 + DEFLATE base64 histogram).
pub fn decode(s: &str) -> Result<Histogram<u64>, String> {
    let bytes = STANDARD
        .decode(s.trim())
        .map_err(|e| format!("bad base64: {e}"))?;
    Deserializer::new()
        .deserialize(&mut &bytes[..])
        .map_err(|e| format!("bad histogram: {e:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_histograms_round_trip_and_start_with_histf() {
        let mut h = Histogram::<u64>::new(3).unwrap();
        for v in [1, 100, 1000, 123_456, 3_000_000] {
            h.record(v).unwrap();
        }
        let s = encode(&h);
        assert!(s.starts_with("HISTF"), "{s}");
        let back = decode(&s).unwrap();
        assert_eq!(back.len(), 5);
        assert_eq!(back.max(), h.max());
        assert_eq!(back.value_at_quantile(0.5), h.value_at_quantile(0.5));
    }
}
