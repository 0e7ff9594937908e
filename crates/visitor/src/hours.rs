//! Business hours in a time zone: whether a team is answering now, and when it will next.
//!
//! Hours are wall-clock times in the team's IANA time zone, so "09:00" stays 09:00 across
//! daylight-saving changes. Each weekday has any number (up to 8) of non-overlapping
//! intervals; a missing day is closed. Intervals cannot run past midnight: "22:00" to
//! "02:00" is written as "22:00"–"24:00" on one day and "00:00"–"02:00" on the next, which
//! keeps every rule about a day (holidays included) about that day only. Holidays are local
//! dates on which the team is closed all day.
//!
//! On the day clocks spring forward, an interval opening inside the skipped hour opens when
//! the clock resumes (opening at 01:30 in London on that day means opening at 02:00 BST).
//! On the day they fall back, the repeated hour is open or closed by its wall-clock reading
//! both times round.
//!
//! ```json
//! {"time_zone":"Europe/London",
//!  "weekly":{"monday":[{"open":"09:00","close":"17:00"}]},
//!  "holidays":["2026-12-25"]}
//! ```
//!
//! The types themselves are `natter_core::hours`'s (re-exported here); bring [`HoursExt`]
//! into scope to ask them anything.

use chrono::{
    DateTime, Datelike, Days, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Timelike, Weekday,
};
use chrono_tz::Tz;

/// The most intervals one day may have, and the most holidays a calendar may list; both
/// keep an admin's typo (or a hostile API client) from making every check slow.
pub const MAX_INTERVALS_PER_DAY: usize = 8;
pub const MAX_HOLIDAYS: usize = 366;
/// How far ahead [`HoursExt::next_open`] looks.
pub const NEXT_OPEN_HORIZON_DAYS: u64 = 14;

// The types are plain data in natter-core, so that the website settings embedding them can
// be generated for TypeScript; what they mean is worked out here, with chrono-tz.
pub use natter_core::hours::{BusinessHours, Interval, Weekly};

/// What a week's hours say about one day (an extension trait: [`Weekly`] lives in
/// natter-core, so it cannot have inherent methods here).
pub trait WeeklyExt {
    fn day(&self, weekday: Weekday) -> &[Interval];
}

impl WeeklyExt for Weekly {
    fn day(&self, weekday: Weekday) -> &[Interval] {
        match weekday {
            Weekday::Mon => &self.monday,
            Weekday::Tue => &self.tuesday,
            Weekday::Wed => &self.wednesday,
            Weekday::Thu => &self.thursday,
            Weekday::Fri => &self.friday,
            Weekday::Sat => &self.saturday,
            Weekday::Sun => &self.sunday,
        }
    }
}

/// Building an [`Interval`] (an extension trait for the same reason as [`WeeklyExt`]; it
/// keeps `Interval::new` working where the trait is in scope).
pub trait IntervalExt {
    fn new(open: &str, close: &str) -> Self;
}

impl IntervalExt for Interval {
    fn new(open: &str, close: &str) -> Interval {
        Interval {
            open: open.to_owned(),
            close: close.to_owned(),
        }
    }
}

/// Minutes after local midnight, if both times are valid and `open < close`.
fn minutes(interval: &Interval) -> Option<(u32, u32)> {
    let open = parse_hhmm(&interval.open).filter(|m| *m < MINUTES_PER_DAY)?;
    let close = parse_hhmm(&interval.close)?;
    (open < close).then_some((open, close))
}

const MINUTES_PER_DAY: u32 = 24 * 60;

/// Strict "HH:MM", 00:00 to 24:00.
fn parse_hhmm(s: &str) -> Option<u32> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 || !(h.bytes().chain(m.bytes())).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    let minutes = h * 60 + m;
    (m < 60 && minutes <= MINUTES_PER_DAY).then_some(minutes)
}

const WEEKDAYS: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

/// What business hours mean at a given time (an extension trait: [`BusinessHours`] lives in
/// natter-core, which has no time zone database).
pub trait HoursExt {
    /// Checks what serde cannot: a known time zone, well-formed and ordered times, no
    /// overlaps, and the size limits. The message names the offending day and interval.
    fn validate(&self) -> Result<(), String>;

    /// Whether the team is open at `at_ms` (milliseconds since the Unix epoch). Invalid
    /// hours (see [`Self::validate`]) count as closed rather than failing.
    fn is_open(&self, at_ms: i64) -> bool;

    /// The first moment at or after `at_ms` when the team is open: `at_ms` itself if it is
    /// open now, `None` if it stays closed for the next [`NEXT_OPEN_HORIZON_DAYS`] days (or
    /// the hours are invalid).
    fn next_open(&self, at_ms: i64) -> Option<i64>;
}

impl HoursExt for BusinessHours {
    fn validate(&self) -> Result<(), String> {
        parse_tz(&self.time_zone)
            .ok_or_else(|| format!("unknown time zone {:?}", self.time_zone))?;
        for weekday in WEEKDAYS {
            let day = day_name(weekday);
            let intervals = self.weekly.day(weekday);
            if intervals.len() > MAX_INTERVALS_PER_DAY {
                return Err(format!(
                    "{day}: at most {MAX_INTERVALS_PER_DAY} intervals per day, got {}",
                    intervals.len()
                ));
            }
            let mut spans = Vec::with_capacity(intervals.len());
            for interval in intervals {
                let Interval { open, close } = interval;
                let open_m = parse_hhmm(open)
                    .filter(|m| *m < MINUTES_PER_DAY)
                    .ok_or_else(|| {
                        format!("{day}: opening time {open:?} is not a time from 00:00 to 23:59")
                    })?;
                let close_m = parse_hhmm(close).ok_or_else(|| {
                    format!("{day}: closing time {close:?} is not a time from 00:00 to 24:00")
                })?;
                if open_m >= close_m {
                    return Err(format!(
                        "{day}: {open}–{close} must close after it opens; intervals cannot run \
                         past midnight (use {open}–24:00 and 00:00–{close} on the next day)"
                    ));
                }
                spans.push((open_m, close_m, interval));
            }
            spans.sort_by_key(|(open, _, _)| *open);
            for pair in spans.windows(2) {
                if let [(_, prev_close, prev), (next_open, _, next)] = pair
                    && next_open < prev_close
                {
                    return Err(format!(
                        "{day}: {}–{} overlaps {}–{}",
                        prev.open, prev.close, next.open, next.close
                    ));
                }
            }
        }
        if self.holidays.len() > MAX_HOLIDAYS {
            return Err(format!(
                "at most {MAX_HOLIDAYS} holidays, got {}",
                self.holidays.len()
            ));
        }
        Ok(())
    }

    fn is_open(&self, at_ms: i64) -> bool {
        let (Some(tz), Some(at)) = (
            parse_tz(&self.time_zone),
            DateTime::from_timestamp_millis(at_ms),
        ) else {
            return false;
        };
        let local = at.with_timezone(&tz).naive_local();
        is_open_local(self, local)
    }

    fn next_open(&self, at_ms: i64) -> Option<i64> {
        let tz = parse_tz(&self.time_zone)?;
        let at = DateTime::from_timestamp_millis(at_ms)?;
        if self.is_open(at_ms) {
            return Some(at_ms);
        }
        let today = at.with_timezone(&tz).date_naive();
        for offset in 0..=NEXT_OPEN_HORIZON_DAYS {
            let date = today.checked_add_days(Days::new(offset))?;
            if self.holidays.contains(&date) {
                continue;
            }
            let mut opens: Vec<(u32, u32)> = self
                .weekly
                .day(date.weekday())
                .iter()
                .filter_map(minutes)
                .collect();
            opens.sort_unstable();
            for (open, close) in opens {
                let later = opening_instants(tz, date, open, close)
                    .into_iter()
                    .map(|start| start.timestamp_millis())
                    .find(|start| *start > at_ms);
                if later.is_some() {
                    return later;
                }
            }
        }
        None
    }
}

fn is_open_local(hours: &BusinessHours, local: NaiveDateTime) -> bool {
    let date = local.date();
    if hours.holidays.contains(&date) {
        return false;
    }
    let second = local.num_seconds_from_midnight();
    hours
        .weekly
        .day(date.weekday())
        .iter()
        .filter_map(minutes)
        .any(|(open, close)| open * 60 <= second && second < close * 60)
}

/// The instants at which the local interval `[open, close)` on `date` opens, in order: the
/// opening time itself; both of its occurrences when the clocks fall back (the interval
/// reopens the second time round); or the end of the skipped hour when the opening time
/// does not exist. Empty if the whole interval is skipped.
fn opening_instants(tz: Tz, date: NaiveDate, open: u32, close: u32) -> Vec<DateTime<Tz>> {
    let Some(midnight) = date.and_hms_opt(0, 0, 0) else {
        return Vec::new();
    };
    (open..close)
        .find_map(|minute| {
            let local = midnight + chrono::Duration::minutes(i64::from(minute));
            match tz.from_local_datetime(&local) {
                LocalResult::Single(t) => Some(vec![t]),
                LocalResult::Ambiguous(first, second) => Some(vec![first, second]),
                LocalResult::None => None,
            }
        })
        .unwrap_or_default()
}

/// The local wall-clock time "HH:MM" at `at_ms` in an IANA time zone, e.g. to show an agent
/// that it is 23:40 for the visitor. `None` for an unknown zone or an out-of-range instant.
pub fn local_time(at_ms: i64, time_zone: &str) -> Option<String> {
    let tz = parse_tz(time_zone)?;
    let at = DateTime::from_timestamp_millis(at_ms)?;
    Some(at.with_timezone(&tz).format("%H:%M").to_string())
}

fn parse_tz(name: &str) -> Option<Tz> {
    name.parse::<Tz>().ok()
}

fn day_name(weekday: Weekday) -> &'static str {
    match weekday {
        Weekday::Mon => "monday",
        Weekday::Tue => "tuesday",
        Weekday::Wed => "wednesday",
        Weekday::Thu => "thursday",
        Weekday::Fri => "friday",
        Weekday::Sat => "saturday",
        Weekday::Sun => "sunday",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    /// Milliseconds for an RFC 3339 instant, e.g. "2026-03-29T00:30:00Z".
    fn ms(rfc3339: &str) -> i64 {
        DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .timestamp_millis()
    }

    fn utc(ms: i64) -> String {
        DateTime::<Utc>::from_timestamp_millis(ms)
            .unwrap()
            .to_rfc3339()
    }

    fn nine_to_five(tz: &str) -> BusinessHours {
        let day = vec![Interval::new("09:00", "17:00")];
        BusinessHours {
            time_zone: tz.to_owned(),
            weekly: Weekly {
                monday: day.clone(),
                tuesday: day.clone(),
                wednesday: day.clone(),
                thursday: day.clone(),
                friday: day,
                ..Weekly::default()
            },
            holidays: vec![],
        }
    }

    #[test]
    fn the_documented_json_shape_round_trips_and_missing_days_are_closed() {
        let json = r#"{"time_zone":"Europe/London","weekly":{"monday":[{"open":"09:00","close":"17:00"}]},"holidays":["2026-12-25"]}"#;
        let hours: BusinessHours = serde_json::from_str(json).unwrap();
        hours.validate().unwrap();
        assert_eq!(hours.weekly.monday, vec![Interval::new("09:00", "17:00")]);
        assert!(hours.weekly.tuesday.is_empty());
        assert_eq!(
            hours.holidays,
            vec![NaiveDate::from_ymd_opt(2026, 12, 25).unwrap()]
        );
        assert_eq!(serde_json::to_string(&hours).unwrap(), json);
    }

    #[test]
    fn a_misspelt_weekday_is_rejected_rather_than_read_as_closed() {
        let json = r#"{"time_zone":"UTC","weekly":{"munday":[{"open":"09:00","close":"17:00"}]}}"#;
        assert!(serde_json::from_str::<BusinessHours>(json).is_err());
    }

    #[test]
    fn opening_hours_are_half_open_intervals_in_local_time() {
        let hours = nine_to_five("Europe/London");
        // Monday 2026-01-12, GMT (UTC+0).
        assert!(!hours.is_open(ms("2026-01-12T08:59:59Z")));
        assert!(hours.is_open(ms("2026-01-12T09:00:00Z")));
        assert!(hours.is_open(ms("2026-01-12T16:59:59Z")));
        assert!(!hours.is_open(ms("2026-01-12T17:00:00Z")));
        // Saturday.
        assert!(!hours.is_open(ms("2026-01-17T12:00:00Z")));
    }

    #[test]
    fn london_hours_follow_british_summer_time() {
        let hours = nine_to_five("Europe/London");
        // Monday 2026-06-15, BST (UTC+1): 09:00 local is 08:00 UTC.
        assert!(hours.is_open(ms("2026-06-15T08:00:00Z")));
        assert!(!hours.is_open(ms("2026-06-15T16:30:00Z")));
        assert!(hours.is_open(ms("2026-06-15T15:59:00Z")));
    }

    #[test]
    fn next_open_across_the_london_spring_forward_weekend() {
        let hours = nine_to_five("Europe/London");
        // Friday 2026-03-27 after closing (GMT); clocks go forward Sunday 2026-03-29 01:00 UTC.
        // Monday 09:00 BST is 08:00 UTC.
        let next = hours.next_open(ms("2026-03-27T18:00:00Z")).unwrap();
        assert_eq!(utc(next), "2026-03-30T08:00:00+00:00");
    }

    #[test]
    fn next_open_across_the_london_fall_back_weekend() {
        let hours = nine_to_five("Europe/London");
        // Clocks go back Sunday 2026-10-25; Monday 09:00 GMT is 09:00 UTC.
        let next = hours.next_open(ms("2026-10-23T17:00:00Z")).unwrap();
        assert_eq!(utc(next), "2026-10-26T09:00:00+00:00");
    }

    #[test]
    fn an_opening_time_inside_the_skipped_hour_opens_when_the_clock_resumes() {
        let mut hours = nine_to_five("Europe/London");
        hours.weekly.sunday = vec![Interval::new("01:30", "03:00")];
        // On 2026-03-29 local time jumps from 01:00 GMT to 02:00 BST (01:00 UTC).
        let next = hours.next_open(ms("2026-03-29T00:00:00Z")).unwrap();
        assert_eq!(utc(next), "2026-03-29T01:00:00+00:00");
        assert!(hours.is_open(next));
        assert!(!hours.is_open(next - 1));
        // An interval entirely inside the skipped hour never opens.
        hours.weekly.sunday = vec![Interval::new("01:00", "02:00")];
        let next = hours.next_open(ms("2026-03-29T00:00:00Z")).unwrap();
        assert_eq!(utc(next), "2026-03-30T08:00:00+00:00");
    }

    #[test]
    fn new_york_hours_follow_eastern_daylight_time() {
        let hours = nine_to_five("America/New_York");
        // Monday 2026-03-02, EST (UTC-5): 09:00 local is 14:00 UTC.
        assert!(!hours.is_open(ms("2026-03-02T13:59:00Z")));
        assert!(hours.is_open(ms("2026-03-02T14:00:00Z")));
        // Monday 2026-03-09, the day after clocks spring forward (EDT, UTC-4).
        assert!(hours.is_open(ms("2026-03-09T13:00:00Z")));
        assert!(!hours.is_open(ms("2026-03-09T21:00:00Z")));
        // Friday evening before the change to Monday morning after it.
        let next = hours.next_open(ms("2026-03-06T23:00:00Z")).unwrap();
        assert_eq!(utc(next), "2026-03-09T13:00:00+00:00");
        // And across the fall-back weekend (2026-11-01): Monday 09:00 EST is 14:00 UTC.
        let next = hours.next_open(ms("2026-10-30T22:00:00Z")).unwrap();
        assert_eq!(utc(next), "2026-11-02T14:00:00+00:00");
    }

    #[test]
    fn the_repeated_fall_back_hour_is_open_both_times_round() {
        let mut hours = nine_to_five("America/New_York");
        hours.weekly.sunday = vec![Interval::new("01:00", "02:00")];
        // 2026-11-01: 01:00–02:00 local happens at 05:00–06:00 UTC (EDT) and again at
        // 06:00–07:00 UTC (EST).
        assert!(hours.is_open(ms("2026-11-01T05:30:00Z")));
        assert!(hours.is_open(ms("2026-11-01T06:30:00Z")));
        assert!(!hours.is_open(ms("2026-11-01T07:00:00Z")));
        let next = hours.next_open(ms("2026-11-01T04:00:00Z")).unwrap();
        assert_eq!(utc(next), "2026-11-01T05:00:00+00:00");
        // Opening at 01:30: between the two passes (01:00–01:29 EST) the next opening is
        // 01:30 EST, the second time round.
        hours.weekly.sunday = vec![Interval::new("01:30", "02:00")];
        assert!(!hours.is_open(ms("2026-11-01T06:10:00Z")));
        let next = hours.next_open(ms("2026-11-01T06:10:00Z")).unwrap();
        assert_eq!(utc(next), "2026-11-01T06:30:00+00:00");
    }

    #[test]
    fn holidays_are_closed_and_skipped_by_next_open() {
        let mut hours = nine_to_five("Europe/London");
        hours.holidays = vec![
            NaiveDate::from_ymd_opt(2026, 12, 25).unwrap(),
            NaiveDate::from_ymd_opt(2026, 12, 28).unwrap(),
        ];
        // Friday 25 December is a holiday; Monday 28 December too.
        assert!(!hours.is_open(ms("2026-12-25T12:00:00Z")));
        assert!(hours.is_open(ms("2026-12-24T12:00:00Z")));
        let next = hours.next_open(ms("2026-12-24T18:00:00Z")).unwrap();
        assert_eq!(utc(next), "2026-12-29T09:00:00+00:00");
    }

    #[test]
    fn next_open_is_now_when_open_and_later_the_same_day_when_not_yet() {
        let mut hours = nine_to_five("Europe/London");
        hours.weekly.monday = vec![
            Interval::new("09:00", "12:00"),
            Interval::new("13:00", "17:30"),
        ];
        let now = ms("2026-01-12T10:15:00Z");
        assert_eq!(hours.next_open(now), Some(now));
        let lunch = ms("2026-01-12T12:30:00Z");
        assert!(!hours.is_open(lunch));
        assert_eq!(
            hours.next_open(lunch).map(utc).as_deref(),
            Some("2026-01-12T13:00:00+00:00")
        );
        assert!(hours.is_open(ms("2026-01-12T17:29:00Z")));
    }

    #[test]
    fn a_close_of_24_00_runs_to_midnight_and_joins_the_next_day() {
        let mut hours = nine_to_five("UTC");
        hours.weekly.friday = vec![Interval::new("20:00", "24:00")];
        hours.weekly.saturday = vec![Interval::new("00:00", "02:00")];
        hours.validate().unwrap();
        assert!(hours.is_open(ms("2026-01-16T23:59:59Z")));
        assert!(hours.is_open(ms("2026-01-17T00:00:00Z")));
        assert!(hours.is_open(ms("2026-01-17T01:59:00Z")));
        assert!(!hours.is_open(ms("2026-01-17T02:00:00Z")));
    }

    #[test]
    fn next_open_gives_up_after_fourteen_days() {
        let mut hours = nine_to_five("Europe/London");
        assert!(hours.next_open(ms("2026-01-12T18:00:00Z")).is_some());
        hours.weekly = Weekly::default();
        assert_eq!(hours.next_open(ms("2026-01-12T18:00:00Z")), None);
        // Open only on a day more than two weeks of holidays away.
        hours.weekly.monday = vec![Interval::new("09:00", "17:00")];
        hours.holidays = (0..20)
            .map(|d| NaiveDate::from_ymd_opt(2026, 1, 13).unwrap() + Days::new(d))
            .collect();
        assert_eq!(hours.next_open(ms("2026-01-12T18:00:00Z")), None);
    }

    #[test]
    fn validation_rejects_each_kind_of_mistake() {
        let base = nine_to_five("Europe/London");
        let with_monday = |intervals: &[(&str, &str)]| {
            let mut hours = base.clone();
            hours.weekly.monday = intervals.iter().map(|(o, c)| Interval::new(o, c)).collect();
            hours
        };
        let cases: Vec<(&str, BusinessHours, &str)> = vec![
            (
                "unknown zone",
                BusinessHours {
                    time_zone: "Mars/Olympus_Mons".into(),
                    ..base.clone()
                },
                "unknown time zone",
            ),
            (
                "overnight",
                with_monday(&[("22:00", "02:00")]),
                "cannot run past midnight",
            ),
            (
                "empty interval",
                with_monday(&[("09:00", "09:00")]),
                "close after it opens",
            ),
            ("bad hour", with_monday(&[("25:00", "26:00")]), "not a time"),
            (
                "bad minute",
                with_monday(&[("09:60", "17:00")]),
                "not a time",
            ),
            (
                "single digit",
                with_monday(&[("9:00", "17:00")]),
                "not a time",
            ),
            (
                "seconds",
                with_monday(&[("09:00:00", "17:00")]),
                "not a time",
            ),
            (
                "opening at 24:00",
                with_monday(&[("24:00", "24:00")]),
                "not a time",
            ),
            (
                "past 24:00",
                with_monday(&[("09:00", "24:01")]),
                "not a time",
            ),
            (
                "overlap",
                with_monday(&[("13:00", "17:00"), ("09:00", "13:30")]),
                "overlaps",
            ),
            (
                "too many",
                with_monday(&[("00:00", "00:01"); 9]),
                "at most 8",
            ),
            (
                "too many holidays",
                BusinessHours {
                    holidays: (0..367)
                        .map(|d| NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + Days::new(d))
                        .collect(),
                    ..base.clone()
                },
                "at most 366 holidays",
            ),
        ];
        for (what, hours, expected) in cases {
            let err = hours.validate().unwrap_err();
            assert!(err.contains(expected), "{what}: {err}");
        }
        // Touching intervals, eight of them, and 24:00 are all fine.
        let fine = with_monday(&[
            ("00:00", "03:00"),
            ("03:00", "06:00"),
            ("06:00", "09:00"),
            ("09:00", "12:00"),
            ("12:00", "15:00"),
            ("15:00", "18:00"),
            ("18:00", "21:00"),
            ("21:00", "24:00"),
        ]);
        fine.validate().unwrap();
        assert!(fine.is_open(ms("2026-01-12T23:59:00Z")));
    }

    #[test]
    fn invalid_hours_are_closed_instead_of_failing() {
        let mut hours = nine_to_five("Not/AZone");
        assert!(!hours.is_open(ms("2026-01-12T12:00:00Z")));
        assert_eq!(hours.next_open(ms("2026-01-12T12:00:00Z")), None);
        hours.time_zone = "UTC".into();
        hours.weekly.monday = vec![Interval::new("17:00", "09:00")];
        assert!(!hours.is_open(ms("2026-01-12T20:00:00Z")));
        assert!(!hours.is_open(i64::MAX));
    }

    #[test]
    fn local_time_shows_the_wall_clock_in_a_zone() {
        let at = ms("2026-07-01T22:40:00Z");
        assert_eq!(local_time(at, "Europe/London").as_deref(), Some("23:40"));
        assert_eq!(local_time(at, "America/New_York").as_deref(), Some("18:40"));
        assert_eq!(local_time(at, "Asia/Kolkata").as_deref(), Some("04:10"));
        assert_eq!(local_time(at, "UTC").as_deref(), Some("22:40"));
        assert_eq!(local_time(at, "Nowhere/Special"), None);
    }
}
