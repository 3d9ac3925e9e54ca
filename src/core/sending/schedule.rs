//! 送信予約: the date and time a student types ("2026-12-08" and "8:30", or "2026/12/08 08:30" in
//! one), read in the local time zone and checked to lie ahead, and the time offered first (the
//! next morning). Pure: `now` is passed in; it does not word its errors and does not store
//! anything (the outbox keeps the time with the message).

use std::time::SystemTime;

use chrono::{Local, NaiveDate, NaiveDateTime, NaiveTime, TimeZone as _};

/// Why a typed time cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleError {
    /// Not a date as 2026-12-08 or 2026/12/08.
    Date,
    /// Not a time as 08:30.
    Time,
    /// A local time that does not exist (skipped by a clock change).
    NoSuchTime,
    /// Not ahead of now.
    Past,
}

/// What the Japanese input types in full width (digits, ／, ：, －, the ideographic space) as the
/// half-width it stands for.
fn half_width(text: &str) -> String {
    text.trim()
        .chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFF01 + 0x21).unwrap_or(c),
            '\u{3000}' => ' ',
            c => c,
        })
        .collect()
}

fn date(text: &str) -> Option<NaiveDate> {
    let text = half_width(text).replace('/', "-");
    NaiveDate::parse_from_str(&text, "%Y-%m-%d").ok()
}

fn time(text: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(&half_width(text), "%H:%M").ok()
}

/// `date` and `time` as one instant in the local zone, ahead of `now`.
pub fn parse(date_text: &str, time_text: &str, now: SystemTime) -> Result<SystemTime, ScheduleError> {
    let d = date(date_text).ok_or(ScheduleError::Date)?;
    let t = time(time_text).ok_or(ScheduleError::Time)?;
    // An hour that comes twice (a clock set back) is taken the first time.
    let at: SystemTime =
        Local.from_local_datetime(&NaiveDateTime::new(d, t)).earliest().ok_or(ScheduleError::NoSuchTime)?.into();
    if at <= now {
        return Err(ScheduleError::Past);
    }
    Ok(at)
}

/// One text, the date and the time apart by a space or a `T` ("2026-12-08 08:30").
pub fn parse_one(text: &str, now: SystemTime) -> Result<SystemTime, ScheduleError> {
    let text = half_width(text);
    let (d, t) = text.split_once([' ', 'T']).ok_or(ScheduleError::Time)?;
    parse(d, t, now)
}

/// The time offered first: tomorrow at 08:30, as the date and the time fields show it.
pub fn next_morning(now: SystemTime) -> (String, String) {
    let local: chrono::DateTime<Local> = now.into();
    let tomorrow = local.date_naive().succ_opt().unwrap_or(local.date_naive());
    (tomorrow.format("%Y-%m-%d").to_string(), "08:30".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn typed_times_are_read_in_the_local_zone_and_must_lie_ahead() {
        let now = SystemTime::now();
        let (d, t) = next_morning(now);
        let at = parse(&d, &t, now).unwrap();
        assert!(at > now && at < now + Duration::from_secs(2 * 86_400), "{d} {t}");
        assert_eq!(parse(&d.replace('-', "/"), "8:30", now), Ok(at), "slashes and one-digit hours");
        assert_eq!(parse(&d, "08：30", now), Ok(at), "a full-width colon");
        let full: String = d.chars().map(|c| char::from_u32(u32::from(c) - 0x21 + 0xFF01).unwrap()).collect();
        assert_eq!(parse(&full, "０８：３０", now), Ok(at), "digits typed in full width");
        assert_eq!(parse_one(&format!("{d} {t}"), now), Ok(at));
        assert_eq!(parse_one(&format!("{d}T{t}"), now), Ok(at));
        assert_eq!(parse("2026-13-01", "08:30", now), Err(ScheduleError::Date));
        assert_eq!(parse("あした", "08:30", now), Err(ScheduleError::Date));
        assert_eq!(parse(&d, "25:00", now), Err(ScheduleError::Time));
        assert_eq!(parse("2000-01-01", "08:30", now), Err(ScheduleError::Past));
        assert_eq!(parse_one(&d, now), Err(ScheduleError::Time), "a date alone");
    }
}
