//! `/v1/embeddings` answers: a deterministic unit vector per input (the same text gives the same
//! vector, in every run and process), as JSON floats or, when asked, OpenAI's base64 of
//! little-endian float32 (what openai-python asks for by default and decodes).

use std::fmt::Write;

use base64::Engine;

/// A deterministic unit vector of `dims` for `text`: each component drawn from a hash of the
/// text and its position, the whole scaled to length 1 (as OpenAI's embeddings are).
pub(crate) fn vector(text: &str, dims: u32) -> Vec<f32> {
    // FNV-1a of the text, then a splitmix64 step per component.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut v: Vec<f32> = (0..u64::from(dims))
        .map(|i| {
            let mut z = h ^ i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            // The top 24 bits, as a float in [-1, 1).
            (z >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

/// The answer's body: `{"object":"list","data":[{"object":"embedding","index":i,"embedding":…}],
/// "model":…,"usage":{"prompt_tokens":N,"total_tokens":N}}`.
pub(crate) fn body(model: &str, inputs: &[(String, u64)], dims: u32, base64: bool) -> Vec<u8> {
    let per_input = if base64 {
        dims as usize * 4 / 3 + 64
    } else {
        dims as usize * 12 + 64
    };
    let mut s = String::with_capacity(128 + inputs.len() * per_input);
    s.push_str(r#"{"object":"list","data":["#);
    for (i, (text, _)) in inputs.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        // Writing to a String cannot fail.
        let _ = write!(s, r#"{{"object":"embedding","index":{i},"embedding":"#);
        let v = vector(text, dims);
        if base64 {
            let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
            s.push('"');
            s.push_str(&base64::engine::general_purpose::STANDARD.encode(bytes));
            s.push('"');
        } else {
            s.push('[');
            for (j, x) in v.iter().enumerate() {
                if j > 0 {
                    s.push(',');
                }
                let _ = write!(s, "{x}");
            }
            s.push(']');
        }
        s.push('}');
    }
    let tokens: u64 = inputs.iter().map(|(_, n)| n).sum();
    let model = serde_json::to_string(model).unwrap_or_default();
    let _ = write!(
        s,
        r#"],"model":{model},"usage":{{"prompt_tokens":{tokens},"total_tokens":{tokens}}}}}"#
    );
    s.into_bytes()
}

/// About how many bytes the answer takes (held against `--max-response-bytes`).
pub(crate) fn estimated_bytes(inputs: usize, dims: u32, base64: bool) -> u64 {
    let per = if base64 { 6 } else { 12 };
    inputs as u64 * (u64::from(dims) * per + 64) + 256
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same text gives the same unit vector; another text another; base64 holds the same
    /// floats as the JSON array, little-endian; usage sums the inputs' tokens.
    #[test]
    fn vectors_are_deterministic_unit_length_in_either_encoding() {
        let a = vector("hello", 64);
        assert_eq!(a, vector("hello", 64));
        assert_ne!(a, vector("hellp", 64));
        assert_eq!(a.len(), 64);
        let norm: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "{norm}");
        let inputs = vec![("hello".to_owned(), 1), ("world again".to_owned(), 2)];
        let floats: serde_json::Value = serde_json::from_slice(&body("m", &inputs, 64, false)).unwrap();
        let b64: serde_json::Value = serde_json::from_slice(&body("m", &inputs, 64, true)).unwrap();
        assert_eq!(floats["usage"]["prompt_tokens"], 3);
        assert_eq!(floats["data"][1]["index"], 1);
        for i in 0..2 {
            let json: Vec<f32> = floats["data"][i]["embedding"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect();
            let raw = base64::engine::general_purpose::STANDARD
                .decode(b64["data"][i]["embedding"].as_str().unwrap())
                .unwrap();
            let decoded: Vec<f32> = raw
                .chunks(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            assert_eq!(json, decoded);
            assert_eq!(json, vector(&inputs[i].0, 64));
        }
    }
}
