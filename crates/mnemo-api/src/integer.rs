//! Integers in JSON bodies as JSON Schema reads them: `10` and `10.0` are the same
//! integer, so a client (or a generator working from the document) may send either.

use serde::de::{Error as _, Unexpected};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

const EXPECTED: &str = "a non-negative integer";

/// An optional non-negative integer that fits `T`; a float with no fractional part counts.
pub(crate) fn optional<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<u64>,
{
    let number = match Option::<Value>::deserialize(deserializer)? {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(number)) => number,
        Some(other) => return Err(D::Error::invalid_type(unexpected(&other), &EXPECTED)),
    };
    let whole = match (number.as_u64(), number.as_f64()) {
        (Some(n), _) => Some(n),
        // Exact for every whole float below 2^64.
        (None, Some(f)) if f.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(&f) => {
            Some(f as u64)
        }
        _ => None,
    };
    match whole.map(T::try_from) {
        Some(Ok(n)) => Ok(Some(n)),
        Some(Err(_)) => Err(D::Error::invalid_value(
            Unexpected::Unsigned(whole.unwrap_or_default()),
            &"an integer in range",
        )),
        None => Err(D::Error::invalid_value(
            match number.as_f64() {
                Some(f) => Unexpected::Float(f),
                None => Unexpected::Other("number"),
            },
            &EXPECTED,
        )),
    }
}

fn unexpected(value: &Value) -> Unexpected<'_> {
    match value {
        Value::Bool(b) => Unexpected::Bool(*b),
        Value::String(s) => Unexpected::Str(s),
        Value::Array(_) => Unexpected::Seq,
        Value::Object(_) => Unexpected::Map,
        Value::Null | Value::Number(_) => Unexpected::Other("value"),
    }
}
