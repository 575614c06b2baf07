//! Rule schedules: when a rule is in force — time-of-day windows (fixed, or relative to sunrise
//! and sunset), weekdays and dates — judged in the site's local time.

use std::fmt;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use sunrise::{Coordinates, SolarDay, SolarEvent};

/// A schedule as the operator writes it. A missing field means "no restriction".
///
/// - `windows`: `"07:00-19:00"`, `"22:00-06:00"` (an end at or before the start crosses
///   midnight), `"sunset+15m-22:00"`, `"sunset-sunrise"`, `"sunrise-30m-sunset"`.
/// - `weekdays`: `"mon"`…`"sun"` (full names too, any case), ranges like `"mon-fri"`, and the
///   shorthands `"weekdays"` and `"weekends"`.
/// - `dates` / `except_dates`: `"2026-10-01"` or inclusive ranges `"2026-10-01..2026-10-07"`.
#[derive(Debug, Clone, Default, serde::Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    pub windows: Option<Vec<String>>,
    pub weekdays: Option<Vec<String>>,
    pub dates: Option<Vec<String>>,
    pub except_dates: Option<Vec<String>>,
}

/// One problem in a [`ScheduleSpec`]: the list (`"windows"`, `"weekdays"`, `"dates"` or
/// `"except_dates"`), the entry's index in it (0 when the list itself is empty) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}[{index}]: {message}")]
pub struct ScheduleError {
    pub field: &'static str,
    pub index: usize,
    pub message: String,
}

/// The site's position, in degrees (WGS 84), for sunrise and sunset times.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SunPosition {
    pub lat: f64,
    pub lon: f64,
}

/// A validated schedule, ready to answer "is the rule in force now?".
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// Empty means all day.
    windows: Vec<Window>,
    /// Indexed by [`Weekday::num_days_from_monday`].
    weekdays: [bool; 7],
    /// Empty means any date.
    dates: Vec<DateRange>,
    except_dates: Vec<DateRange>,
}

/// One daily window. It belongs to the day it starts on: that day must pass the weekday and
/// date filters, even for the part after midnight.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Window {
    start: TimePoint,
    end: TimePoint,
    /// Decided once, on nominal times (sunrise 06:00, sunset 18:00), so that `sunset+15m-22:00`
    /// stays an evening window even where the sun sets after 22:00 (it is then empty that day).
    crosses_midnight: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TimePoint {
    Clock(NaiveTime),
    Sun { event: SunEvent, offset_minutes: i32 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SunEvent {
    Sunrise,
    Sunset,
}

/// Inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DateRange {
    first: NaiveDate,
    last: NaiveDate,
}

const WEEKDAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const WINDOW_SHAPE: &str = "a window needs a start and an end separated by `-`, e.g. 07:00-19:00";
const OFFSET_SHAPE: &str = "sunset offsets are written like sunset+15m or sunset-1h30m";
const MAX_OFFSET_MINUTES: i32 = 12 * 60;

impl Schedule {
    /// No restriction: in force at every instant.
    pub fn always() -> Schedule {
        Schedule { windows: Vec::new(), weekdays: [true; 7], dates: Vec::new(), except_dates: Vec::new() }
    }

    /// Checks `spec`, reporting every problem in it, not just the first.
    pub fn from_spec(spec: &ScheduleSpec) -> Result<Schedule, Vec<ScheduleError>> {
        let mut errors = Vec::new();
        let windows = parse_list(&mut errors, "windows", spec.windows.as_deref(), true, parse_window);
        let weekday_lists = parse_list(&mut errors, "weekdays", spec.weekdays.as_deref(), true, parse_weekdays);
        let dates = parse_list(&mut errors, "dates", spec.dates.as_deref(), true, parse_date_range);
        let except_dates = parse_list(&mut errors, "except_dates", spec.except_dates.as_deref(), false, parse_date_range);
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut weekdays = [spec.weekdays.is_none(); 7];
        for day in weekday_lists.into_iter().flatten() {
            weekdays[day.num_days_from_monday() as usize] = true;
        }
        Ok(Schedule { windows, weekdays, dates, except_dates })
    }

    /// Whether any window is relative to sunrise or sunset, so the site's position is needed.
    pub fn needs_sun(&self) -> bool {
        self.windows.iter().any(|window| window.start.is_sun() || window.end.is_sun())
    }

    /// Whether the schedule is in force at `at`, judged in local time in `tz`.
    ///
    /// A window whose sunrise or sunset cannot be known — `sun` is `None`, the position is out of
    /// range, or the sun does not rise or set that day (polar day or night) — is inactive that day.
    pub fn is_active(&self, at: DateTime<Utc>, tz: Tz, sun: Option<SunPosition>) -> bool {
        let now = at.with_timezone(&tz).naive_local();
        let today = now.date();
        if self.windows.is_empty() {
            return self.applies_on(today);
        }
        // Sun offsets (up to 12 h) and crossing midnight let the window of a day reach from the
        // evening before to two days after; look at every day whose window could contain `now`.
        (-2..=1)
            .filter_map(|shift| today.checked_add_signed(Duration::days(shift)))
            .filter(|day| self.applies_on(*day))
            .any(|day| {
                self.windows
                    .iter()
                    .filter_map(|window| window.on(day, tz, sun))
                    .any(|(start, end)| start <= now && now < end)
            })
    }

    /// Short text for logs and the UI, e.g. `mon-fri 07:00-19:00 except 2026-10-01..2026-10-07`.
    pub fn describe(&self) -> String {
        let join = |items: Vec<String>| items.join(", ");
        let mut parts = Vec::new();
        if self.weekdays != [true; 7] {
            parts.push(describe_weekdays(&self.weekdays));
        }
        if !self.windows.is_empty() {
            parts.push(join(self.windows.iter().map(Window::to_string).collect()));
        }
        if !self.dates.is_empty() {
            parts.push(format!("on {}", join(self.dates.iter().map(DateRange::to_string).collect())));
        }
        if !self.except_dates.is_empty() {
            parts.push(format!("except {}", join(self.except_dates.iter().map(DateRange::to_string).collect())));
        }
        if parts.is_empty() { "always".to_string() } else { parts.join(" ") }
    }

    /// Whether `day` passes the weekday and date filters.
    fn applies_on(&self, day: NaiveDate) -> bool {
        self.weekdays[day.weekday().num_days_from_monday() as usize]
            && (self.dates.is_empty() || self.dates.iter().any(|range| range.contains(day)))
            && !self.except_dates.iter().any(|range| range.contains(day))
    }
}

impl Window {
    /// The local times `[start, end)` of the window belonging to `day`; `None` when a sun time
    /// cannot be known.
    fn on(&self, day: NaiveDate, tz: Tz, sun: Option<SunPosition>) -> Option<(NaiveDateTime, NaiveDateTime)> {
        let end_day = if self.crosses_midnight { day.succ_opt()? } else { day };
        Some((self.start.on(day, tz, sun)?, self.end.on(end_day, tz, sun)?))
    }
}

impl TimePoint {
    fn is_sun(&self) -> bool {
        matches!(self, TimePoint::Sun { .. })
    }

    /// Minutes after midnight, with sunrise taken as 06:00 and sunset as 18:00; may fall outside
    /// 0..1440 because of offsets.
    fn nominal_minutes(&self) -> i32 {
        match self {
            TimePoint::Clock(time) => (time.num_seconds_from_midnight() / 60) as i32,
            TimePoint::Sun { event: SunEvent::Sunrise, offset_minutes } => 6 * 60 + offset_minutes,
            TimePoint::Sun { event: SunEvent::Sunset, offset_minutes } => 18 * 60 + offset_minutes,
        }
    }

    /// The local time this point falls at on `day`.
    fn on(&self, day: NaiveDate, tz: Tz, sun: Option<SunPosition>) -> Option<NaiveDateTime> {
        match *self {
            TimePoint::Clock(time) => Some(day.and_time(time)),
            TimePoint::Sun { event, offset_minutes } => {
                let site = sun?;
                let solar_day = SolarDay::new(Coordinates::new(site.lat, site.lon)?, day);
                let utc = solar_day.event_time(match event {
                    SunEvent::Sunrise => SolarEvent::Sunrise,
                    SunEvent::Sunset => SolarEvent::Sunset,
                })?;
                Some(utc.with_timezone(&tz).naive_local() + Duration::minutes(offset_minutes.into()))
            }
        }
    }
}

impl SunEvent {
    fn name(&self) -> &'static str {
        match self {
            SunEvent::Sunrise => "sunrise",
            SunEvent::Sunset => "sunset",
        }
    }
}

impl DateRange {
    fn contains(&self, day: NaiveDate) -> bool {
        self.first <= day && day <= self.last
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start, self.end)
    }
}

impl fmt::Display for TimePoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            TimePoint::Clock(time) => write!(f, "{}", time.format("%H:%M")),
            TimePoint::Sun { event, offset_minutes: 0 } => f.write_str(event.name()),
            TimePoint::Sun { event, offset_minutes } => {
                let (sign, size) = (if offset_minutes < 0 { '-' } else { '+' }, offset_minutes.abs());
                let hours = if size >= 60 { format!("{}h", size / 60) } else { String::new() };
                let minutes = if size % 60 > 0 { format!("{}m", size % 60) } else { String::new() };
                write!(f, "{}{sign}{hours}{minutes}", event.name())
            }
        }
    }
}

impl fmt::Display for DateRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last { write!(f, "{}", self.first) } else { write!(f, "{}..{}", self.first, self.last) }
    }
}

/// Parses every entry of one list, recording a [`ScheduleError`] for each bad one. An empty list
/// is an error when `empty_never_matches` (the rule would never be in force).
fn parse_list<T>(
    errors: &mut Vec<ScheduleError>,
    field: &'static str,
    entries: Option<&[String]>,
    empty_never_matches: bool,
    parse: fn(&str) -> Result<T, String>,
) -> Vec<T> {
    if entries.is_some_and(<[String]>::is_empty) && empty_never_matches {
        let message = format!("an empty `{field}` list never matches: leave `{field}` out for no restriction");
        errors.push(ScheduleError { field, index: 0, message });
    }
    let mut parsed = Vec::new();
    for (index, entry) in entries.unwrap_or_default().iter().enumerate() {
        match parse(entry) {
            Ok(value) => parsed.push(value),
            Err(message) => errors.push(ScheduleError { field, index, message }),
        }
    }
    parsed
}

fn parse_window(text: &str) -> Result<Window, String> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).map(|c| if c == '–' { '-' } else { c }).collect();
    let (start, rest) = parse_time_point(&compact)?;
    let end_text = rest.strip_prefix('-').ok_or(WINDOW_SHAPE)?;
    let (end, rest) = parse_time_point(end_text)?;
    if !rest.is_empty() {
        return Err(format!("`{compact}` has more than a start and an end: write one window per entry, e.g. 07:00-19:00"));
    }
    Ok(Window { start, end, crosses_midnight: end.nominal_minutes() <= start.nominal_minutes() })
}

/// Reads one time point from the front of `text`, returning it and what follows.
fn parse_time_point(text: &str) -> Result<(TimePoint, &str), String> {
    for event in [SunEvent::Sunrise, SunEvent::Sunset] {
        let Some(after) = text.strip_prefix(event.name()) else { continue };
        // After `sunset`, a `-` before another sun word or a clock time (`sunset-sunrise`,
        // `sunset-22:00`) separates the window's ends; one before a bare amount is an offset.
        let (sign, amount_and_rest) = match after.split_at_checked(1) {
            Some(("+", rest)) => (1, rest),
            Some(("-", rest)) if rest.starts_with(|c: char| c.is_ascii_digit()) && !up_to_dash(rest).contains(':') => (-1, rest),
            _ if after.is_empty() || after.starts_with('-') => return Ok((TimePoint::Sun { event, offset_minutes: 0 }, after)),
            _ => break, // e.g. `sunsets`: refused below as a clock time
        };
        let amount = up_to_dash(amount_and_rest);
        let written = &text[..event.name().len() + 1 + amount.len()];
        let minutes = parse_offset_minutes(amount).ok_or_else(|| format!("`{written}`: {OFFSET_SHAPE}"))?;
        if minutes > MAX_OFFSET_MINUTES {
            return Err(format!("`{written}`: offsets from sunrise or sunset are at most 12h"));
        }
        return Ok((TimePoint::Sun { event, offset_minutes: sign * minutes }, &amount_and_rest[amount.len()..]));
    }
    let clock = up_to_dash(text);
    if clock.is_empty() {
        return Err(WINDOW_SHAPE.to_string());
    }
    let time = NaiveTime::parse_from_str(clock, "%H:%M").map_err(|_| {
        let expected = if clock.starts_with(|c: char| c.is_ascii_alphabetic()) { "HH:MM, sunrise or sunset" } else { "HH:MM" };
        format!("`{clock}` is not a time: expected {expected}")
    })?;
    Ok((TimePoint::Clock(time), &text[clock.len()..]))
}

fn up_to_dash(text: &str) -> &str {
    text.find('-').map_or(text, |at| &text[..at])
}

/// `15m`, `1h`, `1h30m`, `90m` → minutes.
fn parse_offset_minutes(text: &str) -> Option<i32> {
    let number = |digits: &str| Some(digits).filter(|d| d.bytes().all(|b| b.is_ascii_digit()))?.parse::<u16>().ok();
    let (hours, rest) = match text.split_once('h') {
        Some((hours, rest)) => (number(hours)?, rest),
        None => (0, text),
    };
    let minutes = if rest.is_empty() && text.ends_with('h') { 0 } else { number(rest.strip_suffix('m')?)? };
    Some(i32::from(hours) * 60 + i32::from(minutes))
}

/// `mon`, `monday`, `mon-fri` (wrapping, e.g. `fri-mon`), `weekdays`, `weekends`.
fn parse_weekdays(text: &str) -> Result<Vec<Weekday>, String> {
    let text = text.trim();
    let single = |name: &str| {
        name.trim().parse::<Weekday>().map_err(|_| format!("unknown weekday `{}`: expected mon…sun, weekdays or weekends", name.trim()))
    };
    match text.to_ascii_lowercase().as_str() {
        "weekdays" => return Ok(vec![Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri]),
        "weekends" => return Ok(vec![Weekday::Sat, Weekday::Sun]),
        _ => {}
    }
    let Some((first, last)) = text.split_once('-') else { return Ok(vec![single(text)?]) };
    let (first, last) = (single(first)?, single(last)?);
    let (mut day, mut days) = (first, vec![first]);
    while day != last {
        day = day.succ();
        days.push(day);
    }
    Ok(days)
}

fn describe_weekdays(weekdays: &[bool; 7]) -> String {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for day in (0..7).filter(|&day| weekdays[day]) {
        match runs.last_mut() {
            Some((_, last)) if *last + 1 == day => *last = day,
            _ => runs.push((day, day)),
        }
    }
    let name = |&(first, last): &(usize, usize)| match first == last {
        true => WEEKDAY_NAMES[first].to_string(),
        false => format!("{}-{}", WEEKDAY_NAMES[first], WEEKDAY_NAMES[last]),
    };
    runs.iter().map(name).collect::<Vec<_>>().join(",")
}

/// `2026-10-01` or `2026-10-01..2026-10-07` (inclusive).
fn parse_date_range(text: &str) -> Result<DateRange, String> {
    let text = text.trim();
    let (first, last) = text.split_once("..").unwrap_or((text, text));
    let date = |written: &str| {
        let written = written.trim();
        NaiveDate::parse_from_str(written, "%Y-%m-%d")
            .map_err(|_| format!("`{written}` is not a date: expected YYYY-MM-DD, or a range like 2026-10-01..2026-10-07"))
    };
    let (first, last) = (date(first)?, date(last)?);
    if last < first {
        return Err(format!("the range `{text}` ends before it starts"));
    }
    Ok(DateRange { first, last })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use chrono_tz::Asia::Shanghai;
    use chrono_tz::Europe::Oslo;

    use super::*;

    const CHANGZHOU: SunPosition = SunPosition { lat: 31.81, lon: 119.97 };

    fn list(items: &[&str]) -> Option<Vec<String>> {
        (!items.is_empty()).then(|| items.iter().map(|item| item.to_string()).collect())
    }
    fn build(windows: &[&str], weekdays: &[&str], dates: &[&str], except_dates: &[&str]) -> Schedule {
        let spec = ScheduleSpec { windows: list(windows), weekdays: list(weekdays), dates: list(dates), except_dates: list(except_dates) };
        Schedule::from_spec(&spec).unwrap()
    }
    /// A Shanghai wall-clock time, `YYYY-MM-DD HH:MM:SS`, as a UTC instant.
    fn at(local: &str) -> DateTime<Utc> {
        let naive = NaiveDateTime::parse_from_str(local, "%Y-%m-%d %H:%M:%S").unwrap();
        Shanghai.from_local_datetime(&naive).unwrap().with_timezone(&Utc)
    }
    fn active(schedule: &Schedule, local: &str) -> bool {
        schedule.is_active(at(local), Shanghai, Some(CHANGZHOU))
    }

    // 2026-11-27 is a Friday.
    #[test]
    fn weekday_window_boundaries_in_shanghai() {
        let schedule = build(&["07:00-19:00"], &["weekdays"], &[], &[]);
        assert!(!active(&schedule, "2026-11-27 06:59:59"));
        assert!(active(&schedule, "2026-11-27 07:00:00"));
        assert!(active(&schedule, "2026-11-27 18:59:59"));
        assert!(!active(&schedule, "2026-11-27 19:00:00"));
        assert!(!active(&schedule, "2026-11-28 12:00:00"), "Saturday");
        assert!(!schedule.needs_sun());
    }

    #[test]
    fn utc_instants_are_judged_in_local_time() {
        let schedule = build(&["07:30-07:31"], &["fri"], &[], &[]);
        let instant: DateTime<Utc> = "2026-11-26T23:30:00Z".parse().unwrap();
        assert!(schedule.is_active(instant, Shanghai, None), "Thursday 23:30 UTC is Friday 07:30 in Shanghai");
        assert!(!schedule.is_active(instant, chrono_tz::UTC, None), "still Thursday 23:30 in UTC");
        assert!(!schedule.is_active(instant + Duration::days(1), Shanghai, None), "Saturday");
    }

    #[test]
    fn a_window_crossing_midnight_belongs_to_the_day_it_starts() {
        let schedule = build(&["22:00-06:00"], &["mon-fri"], &[], &[]);
        assert!(!active(&schedule, "2026-11-27 21:59:59"));
        assert!(active(&schedule, "2026-11-27 22:00:00"), "Friday night");
        assert!(active(&schedule, "2026-11-28 05:59:59"), "Saturday morning, after a Friday");
        assert!(!active(&schedule, "2026-11-28 06:00:00"));
        assert!(!active(&schedule, "2026-11-28 23:00:00"), "Saturday night");
        assert!(!active(&schedule, "2026-11-30 03:00:00"), "Monday morning, after a Sunday");
        assert!(active(&schedule, "2026-11-30 23:00:00"), "Monday night");
    }

    // 2026-09-30 is a Wednesday, 2026-10-01 a Thursday.
    #[test]
    fn dates_and_holidays_filter_the_day_a_window_starts_on() {
        let schedule = build(&["07:00-19:00", "22:00-06:00"], &["weekdays"], &[], &["2026-10-01..2026-10-07"]);
        assert!(active(&schedule, "2026-09-30 10:00:00"));
        assert!(active(&schedule, "2026-10-01 03:00:00"), "the night after a working Wednesday");
        assert!(!active(&schedule, "2026-10-01 10:00:00"));
        assert!(!active(&schedule, "2026-10-07 23:00:00"));
        assert!(!active(&schedule, "2026-10-08 03:00:00"), "the night after the last holiday");
        assert!(active(&schedule, "2026-10-08 10:00:00"));

        let only_listed = build(&[], &[], &["2026-12-24..2026-12-26", "2026-12-31"], &[]);
        assert!(!active(&only_listed, "2026-12-23 23:59:59"));
        assert!(active(&only_listed, "2026-12-24 00:00:00"));
        assert!(active(&only_listed, "2026-12-26 23:59:59"));
        assert!(!active(&only_listed, "2026-12-27 00:00:00"));
        assert!(active(&only_listed, "2026-12-31 12:00:00"));
        assert_eq!(only_listed.describe(), "on 2026-12-24..2026-12-26, 2026-12-31");
    }

    // Reference for Changzhou (31.81° N, 119.97° E, UTC+8), independent of the `sunrise` crate: the
    // NOAA Solar Calculator equations (Meeus; apparent sunrise/sunset at zenith 90.833°) give
    // 2026-11-27 sunrise 06:38:32, sunset 16:56:27 and 2026-11-28 sunrise 06:39:23. By hand for
    // the 27th: declination ≈ −21.2°, equation of time ≈ +12.6 min → solar noon ≈ 11:47.5; hour
    // angle = acos((sin −0.833° − sin 31.81° sin −21.2°) / (cos 31.81° cos 21.2°)) ≈ 77.2° ≈ 5 h 08.6 min
    // → sunset ≈ 16:56. The crate's simpler sunrise equation must agree within a minute
    // (it gives 06:38:41 and 16:56:51).
    #[test]
    fn sun_times_match_an_independent_reference_for_changzhou() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
        for (event, reference) in [(SunEvent::Sunrise, (6, 38, 32)), (SunEvent::Sunset, (16, 56, 27))] {
            let computed = TimePoint::Sun { event, offset_minutes: 0 }.on(day, Shanghai, Some(CHANGZHOU)).unwrap();
            let reference = day.and_hms_opt(reference.0, reference.1, reference.2).unwrap();
            assert!((computed - reference).num_seconds().abs() <= 60, "{event:?}: {computed} vs {reference}");
        }
    }

    #[test]
    fn sunset_relative_window_in_changzhou() {
        let schedule = build(&["sunset+15m-22:00"], &[], &[], &[]);
        assert!(schedule.needs_sun());
        // sunset+15m ≈ 17:11:27 (reference above, ±2 min)
        assert!(!active(&schedule, "2026-11-27 17:08:00"));
        assert!(active(&schedule, "2026-11-27 17:15:00"));
        assert!(active(&schedule, "2026-11-27 21:59:59"));
        assert!(!active(&schedule, "2026-11-27 22:00:00"));
        assert!(!schedule.is_active(at("2026-11-27 20:00:00"), Shanghai, None), "no site position: inactive");
    }

    #[test]
    fn sunset_to_sunrise_covers_the_night() {
        let schedule = build(&["sunset-sunrise"], &[], &[], &[]);
        assert!(!active(&schedule, "2026-11-27 16:53:00"));
        assert!(active(&schedule, "2026-11-27 17:00:00"));
        assert!(active(&schedule, "2026-11-28 00:00:00"));
        assert!(active(&schedule, "2026-11-28 06:36:00"), "before the 28th's sunrise, 06:39:23");
        assert!(!active(&schedule, "2026-11-28 06:43:00"));
        assert!(!active(&schedule, "2026-11-28 12:00:00"));
    }

    #[test]
    fn polar_night_has_no_sunset_so_sun_windows_are_inactive() {
        let schedule = build(&["sunset-sunrise"], &[], &[], &[]);
        let midnight = Oslo.with_ymd_and_hms(2026, 12, 21, 0, 0, 0).unwrap().with_timezone(&Utc);
        assert!(!schedule.is_active(midnight, Oslo, Some(SunPosition { lat: 78.22, lon: 15.63 })), "Longyearbyen");
        assert!(schedule.is_active(midnight, Oslo, Some(SunPosition { lat: 59.91, lon: 10.75 })), "Oslo");
    }

    #[test]
    fn accepted_syntax_and_its_description() {
        let cases: [(&[&str], &[&str], &str); 5] = [
            (&["07:00-19:00"], &["weekdays"], "mon-fri 07:00-19:00"),
            (&["sunrise-30m-sunset", "sunset-1h30m - 23:00"], &["Saturday", "sun"], "sat-sun sunrise-30m-sunset, sunset-1h30m-23:00"),
            (&["sunset-22:00", "sunset+2h-sunrise+90m"], &["fri-mon"], "mon,fri-sun sunset-22:00, sunset+2h-sunrise+1h30m"),
            (&["19:00–00:00"], &["weekends", "wed"], "wed,sat-sun 19:00-00:00"),
            (&[], &[], "always"),
        ];
        for (windows, weekdays, described) in cases {
            assert_eq!(build(windows, weekdays, &[], &[]).describe(), described);
        }
        let crossing = |text: &str| parse_window(text).unwrap().crosses_midnight;
        assert!(crossing("22:00-06:00") && crossing("sunset-sunrise") && crossing("19:00-00:00"));
        assert!(!crossing("sunset+15m-22:00") && !crossing("sunrise-30m-sunset"));
        assert_eq!(Schedule::from_spec(&ScheduleSpec::default()), Ok(Schedule::always()));
        assert!(Schedule::always().is_active(at("2026-11-27 03:00:00"), Shanghai, None));

        let spec: ScheduleSpec = toml::from_str("windows = [\"07:00-19:00\"]\nexcept_dates = [\"2026-10-01\"]").unwrap();
        assert_eq!(spec, ScheduleSpec { windows: list(&["07:00-19:00"]), except_dates: list(&["2026-10-01"]), ..Default::default() });
        assert!(toml::from_str::<ScheduleSpec>("window = [\"07:00-19:00\"]").is_err());
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let spec = ScheduleSpec {
            windows: list(&["07:00-19:00", "25:00-26:00", "07:00", "-19:00", "sunset+15-22:00", "sunset+13h-23:00", "07:00-12:00-19:00", "dusk-22:00"]),
            weekdays: list(&["mon", "mno", "fri-sundy"]),
            dates: Some(Vec::new()),
            except_dates: list(&["2026-13-01", "2026-10-07..2026-10-01", "2026-10-01..tomorrow"]),
        };
        let date_shape = "is not a date: expected YYYY-MM-DD, or a range like 2026-10-01..2026-10-07";
        let expected = [
            ("windows", 1, "`25:00` is not a time: expected HH:MM".to_string()),
            ("windows", 2, WINDOW_SHAPE.to_string()),
            ("windows", 3, WINDOW_SHAPE.to_string()),
            ("windows", 4, format!("`sunset+15`: {OFFSET_SHAPE}")),
            ("windows", 5, "`sunset+13h`: offsets from sunrise or sunset are at most 12h".to_string()),
            ("windows", 6, "`07:00-12:00-19:00` has more than a start and an end: write one window per entry, e.g. 07:00-19:00".to_string()),
            ("windows", 7, "`dusk` is not a time: expected HH:MM, sunrise or sunset".to_string()),
            ("weekdays", 1, "unknown weekday `mno`: expected mon…sun, weekdays or weekends".to_string()),
            ("weekdays", 2, "unknown weekday `sundy`: expected mon…sun, weekdays or weekends".to_string()),
            ("dates", 0, "an empty `dates` list never matches: leave `dates` out for no restriction".to_string()),
            ("except_dates", 0, format!("`2026-13-01` {date_shape}")),
            ("except_dates", 1, "the range `2026-10-07..2026-10-01` ends before it starts".to_string()),
            ("except_dates", 2, format!("`tomorrow` {date_shape}")),
        ];
        let found = Schedule::from_spec(&spec).unwrap_err();
        assert_eq!(found[0].to_string(), "windows[1]: `25:00` is not a time: expected HH:MM");
        assert_eq!(found.into_iter().map(|error| (error.field, error.index, error.message)).collect::<Vec<_>>(), expected);
        let nothing_to_except = ScheduleSpec { except_dates: Some(Vec::new()), ..Default::default() };
        assert_eq!(Schedule::from_spec(&nothing_to_except), Ok(Schedule::always()));
    }
}
