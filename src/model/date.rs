//! Calendar dates in front matter: TOML date literals (`2024-09-15`) or strings, the same in
//! YAML. Times of day are accepted and dropped: the portal deals in days.

use std::fmt;

use chrono::NaiveDate;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A calendar day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(pub NaiveDate);

impl Date {
    pub fn parse(s: &str) -> Option<Date> {
        let day = s.trim().get(..10)?;
        NaiveDate::parse_from_str(day, "%Y-%m-%d").ok().map(Date)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

struct DateVisitor;

impl<'de> Visitor<'de> for DateVisitor {
    type Value = Date;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a date written YYYY-MM-DD, e.g. 2024-09-15")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Date, E> {
        Date::parse(v).ok_or_else(|| E::custom(format!("`{v}` is not a valid date; write it YYYY-MM-DD, e.g. 2024-09-15")))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Date, A::Error> {
        // toml hands date literals over as a one-entry map.
        let Some((_, value)) = map.next_entry::<String, String>()? else {
            return Err(de::Error::custom("expected a date"));
        };
        self.visit_str(&value)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        d.deserialize_any(DateVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct T {
        d: Date,
    }

    #[test]
    fn toml_literals_and_strings() {
        let a: T = toml::from_str("d = 2024-09-15").unwrap();
        let b: T = toml::from_str("d = \"2024-09-15\"").unwrap();
        let c: T = serde_yaml_ng::from_str("d: 2024-09-15").unwrap();
        assert_eq!(a.d, b.d);
        assert_eq!(a.d, c.d);
        assert_eq!(a.d.to_string(), "2024-09-15");
        assert!(toml::from_str::<T>("d = \"2024-13-01\"").is_err());
    }
}
