//! Field parsers that never fail on an unexpected shape: kdeck would rather show a blank than
//! lose the whole object (one odd field must not kill a watch). Each reads the field straight
//! from the decoder (no intermediate JSON value), skipping whatever shape it does not expect.

use std::fmt;
use std::marker::PhantomData;

use chrono::{DateTime, Utc};
use serde::de::{self, DeserializeOwned, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// What a field turned out to be, as far as these parsers care.
enum Scalar<'a> {
    Text(&'a str),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// Null, a list, a map: nothing usable.
    Other,
}

/// Reads any value, handing scalars to `f` and skipping lists and maps.
struct ScalarVisitor<F>(F);

impl<'de, T, F: FnOnce(Scalar<'_>) -> T> Visitor<'de> for ScalarVisitor<F> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        Ok((self.0)(Scalar::Text(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        Ok((self.0)(Scalar::Int(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        Ok((self.0)(match i64::try_from(v) {
            Ok(i) => Scalar::Int(i),
            Err(_) => Scalar::Float(v as f64),
        }))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        Ok((self.0)(Scalar::Float(v)))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<T, E> {
        Ok((self.0)(Scalar::Bool(v)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<T, E> {
        Ok((self.0)(Scalar::Other))
    }
    fn visit_none<E: de::Error>(self) -> Result<T, E> {
        Ok((self.0)(Scalar::Other))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<T, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok((self.0)(Scalar::Other))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok((self.0)(Scalar::Other))
    }
}

fn scalar<'de, D: Deserializer<'de>, T>(
    d: D,
    f: impl FnOnce(Scalar<'_>) -> T,
) -> Result<T, D::Error> {
    d.deserialize_any(ScalarVisitor(f))
}

/// A number as JSON writes it (`3`, `1.5`).
fn number_text(s: &Scalar<'_>) -> Option<String> {
    match s {
        Scalar::Int(i) => Some(i.to_string()),
        Scalar::Float(f) => serde_json::Number::from_f64(*f).map(|n| n.to_string()),
        _ => None,
    }
}

/// A timestamp in RFC 3339; anything else (null, a number, garbage) becomes `None`.
pub fn opt_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    scalar(d, |s| match s {
        Scalar::Text(t) => DateTime::parse_from_rfc3339(t)
            .ok()
            .map(|t| t.with_timezone(&Utc)),
        _ => None,
    })
}

/// A string that older objects (or YAML without quotes) may hold as a number, e.g. a pod
/// template hash made only of digits, turned into `T` by `make`.
pub fn opt_string_ref<'de, D: Deserializer<'de>, T>(
    d: D,
    make: impl FnOnce(&str) -> T,
) -> Result<Option<T>, D::Error> {
    scalar(d, |s| match s {
        Scalar::Text(t) => Some(make(t)),
        Scalar::Bool(b) => Some(make(if b { "true" } else { "false" })),
        Scalar::Other => None,
        n => number_text(&n).map(|t| make(&t)),
    })
}

/// A string that older objects (or YAML without quotes) may hold as a number or boolean.
pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    opt_string_ref(d, str::to_owned)
}

/// A boolean; null or anything not a boolean reads as `false`.
pub fn bool_or_false<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    scalar(d, |s| matches!(s, Scalar::Bool(true)))
}

/// An integer counter; null, a numeric string or a float are read as well as they can be,
/// anything else is 0.
pub fn int_or_zero<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    Ok(opt_int(d)?.unwrap_or(0))
}

/// An optional integer (see [`int_or_zero`]).
pub fn opt_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i32>, D::Error> {
    scalar(d, |s| match s {
        Scalar::Int(i) => i32::try_from(i).ok(),
        Scalar::Float(f) => i32::try_from(f as i64).ok(),
        Scalar::Text(t) => t.trim().parse().ok(),
        _ => None,
    })
}

/// A list that may be missing, null, or (in hand-written objects) an empty map such as
/// `conditions: {}`: anything that is not a list reads as an empty one. The elements
/// themselves must still be well formed.
pub fn vec_or_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    struct ListVisitor<T>(PhantomData<T>);

    impl<'de, T: DeserializeOwned> Visitor<'de> for ListVisitor<T> {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
            while let Some(v) = seq.next_element()? {
                out.push(v);
            }
            // Stored for as long as the object: no room for elements that never come.
            out.shrink_to_fit();
            Ok(out)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<T>, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(Vec::new())
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Vec<T>, D::Error> {
            d.deserialize_any(self)
        }
        fn visit_none<E: de::Error>(self) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }
        fn visit_unit<E: de::Error>(self) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }
    }

    d.deserialize_any(ListVisitor(PhantomData))
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(default)]
    struct Fields {
        #[serde(deserialize_with = "super::opt_string")]
        s: Option<String>,
        #[serde(deserialize_with = "super::opt_int")]
        i: Option<i32>,
        #[serde(deserialize_with = "super::bool_or_false")]
        b: bool,
        #[serde(deserialize_with = "super::vec_or_empty")]
        v: Vec<u8>,
        #[serde(deserialize_with = "super::opt_time")]
        t: Option<chrono::DateTime<chrono::Utc>>,
    }

    fn read(v: serde_json::Value) -> Fields {
        // Both decoders kdeck uses: straight from text, and from a parsed value.
        let from_text: Fields = serde_json::from_str(&v.to_string()).unwrap();
        let from_value: Fields = serde_json::from_value(v).unwrap();
        assert_eq!(from_text, from_value);
        from_text
    }

    #[test]
    fn odd_shapes_read_as_blanks() {
        let f = read(json!({"s": {"a": [1]}, "i": [1, 2], "b": "yes", "v": {}, "t": 12}));
        assert_eq!(f, Fields::default());
        let f = read(json!({"s": null, "i": null, "b": null, "v": null, "t": null}));
        assert_eq!(f, Fields::default());
    }

    #[test]
    fn numbers_and_strings_cross_over() {
        let f = read(
            json!({"s": 1234, "i": "42", "b": true, "v": [1, 2], "t": "2024-01-01T00:00:00Z"}),
        );
        assert_eq!(f.s.as_deref(), Some("1234"));
        assert_eq!(f.i, Some(42));
        assert!(f.b);
        assert_eq!(f.v, [1, 2]);
        assert_eq!(f.t.map(|t| t.timestamp()), Some(1_704_067_200));
        assert_eq!(read(json!({"s": 1.5, "i": 7.9})).s.as_deref(), Some("1.5"));
        assert_eq!(read(json!({"i": 7.9})).i, Some(7));
        assert_eq!(read(json!({"s": false})).s.as_deref(), Some("false"));
    }

    #[test]
    fn a_malformed_element_still_fails_the_list() {
        assert!(serde_json::from_str::<Fields>(r#"{"v": [1, "x"]}"#).is_err());
    }
}
