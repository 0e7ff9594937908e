//! A website's business hours as data: what an admin writes into the settings and the web app
//! edits. What they mean (a known time zone, valid times, whether the team is open at an
//! instant, when it next opens) is `natter_visitor::hours`, which needs the time zone database
//! this crate stays without.
//!
//! ```json
//! {"time_zone":"Europe/London",
//!  "weekly":{"monday":[{"open":"09:00","close":"17:00"}]},
//!  "holidays":["2026-12-25"]}
//! ```

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// A team's opening hours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct BusinessHours {
    /// IANA time zone name, e.g. "Europe/London".
    pub time_zone: String,
    #[serde(default)]
    pub weekly: Weekly,
    /// Local dates ("YYYY-MM-DD") on which the team is closed.
    #[serde(default)]
    // On the wire a date is its "YYYY-MM-DD" string; saying so here spares ts-rs a chrono
    // feature.
    #[cfg_attr(feature = "ts", ts(as = "Vec<String>"))]
    pub holidays: Vec<NaiveDate>,
}

/// Opening intervals per weekday. Unknown keys are rejected so that a misspelt day does not
/// silently mean "closed".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct Weekly {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub monday: Vec<Interval>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tuesday: Vec<Interval>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wednesday: Vec<Interval>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thursday: Vec<Interval>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub friday: Vec<Interval>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub saturday: Vec<Interval>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sunday: Vec<Interval>,
}

/// One opening interval, local wall-clock "HH:MM". `close` may be "24:00" (end of day).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Interval {
    pub open: String,
    pub close: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_json_shape_round_trips_and_empty_days_are_left_out() {
        let json = r#"{"time_zone":"Europe/London","weekly":{"monday":[{"open":"09:00","close":"17:00"}]},"holidays":["2026-12-25"]}"#;
        let hours: BusinessHours = serde_json::from_str(json).unwrap();
        assert!(hours.weekly.tuesday.is_empty());
        assert_eq!(
            hours.holidays,
            vec![NaiveDate::from_ymd_opt(2026, 12, 25).unwrap()]
        );
        assert_eq!(serde_json::to_string(&hours).unwrap(), json);
        let bare: BusinessHours = serde_json::from_str(r#"{"time_zone":"UTC"}"#).unwrap();
        assert_eq!(bare.weekly, Weekly::default());
        assert!(bare.holidays.is_empty());
    }

    #[test]
    fn a_misspelt_weekday_or_a_malformed_holiday_is_rejected() {
        let json = r#"{"time_zone":"UTC","weekly":{"munday":[{"open":"09:00","close":"17:00"}]}}"#;
        assert!(serde_json::from_str::<BusinessHours>(json).is_err());
        let json = r#"{"time_zone":"UTC","holidays":["2026-02-30"]}"#;
        assert!(serde_json::from_str::<BusinessHours>(json).is_err());
    }
}
