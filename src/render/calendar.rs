//! The campaign calendar as iCalendar (RFC 5545): a feed visitors subscribe to in their
//! calendar app. Deterministic: no wall-clock DTSTAMP; it is derived from the content.

use chrono::Datelike;

use crate::model::date::Date;
use crate::model::portal::Campaign;
use crate::model::{PageType, Site, Typed};

/// `2024年9月15日—9月21日`, or the single day, or a yearly day (`每年5月30日`), or the year
/// when only that is known.
pub fn dates_label(c: &Campaign) -> Option<String> {
    if let Some(a) = &c.annual {
        return Some(a.label());
    }
    let day = |d: Date| format!("{}年{}月{}日", d.0.format("%Y"), d.0.format("%-m"), d.0.format("%-d"));
    match (c.start, c.end) {
        (Some(s), Some(e)) if s != e => {
            let end = if s.0.format("%Y").to_string() == e.0.format("%Y").to_string() {
                format!("{}月{}日", e.0.format("%-m"), e.0.format("%-d"))
            } else {
                day(e)
            };
            Some(format!("{}—{}", day(s), end))
        }
        (Some(s), _) => Some(day(s)),
        (None, _) => c.year.map(|y| format!("{y}年")),
    }
}

/// The first day of a campaign's event in the feed and the day after its last: a yearly
/// campaign's fixed date in the first year the page reports (its start, else its year), or
/// the dated campaign's own days. `None`: nothing to put in a calendar.
pub fn event_span(c: &Campaign) -> Option<(chrono::NaiveDate, chrono::NaiveDate)> {
    if let Some(a) = &c.annual {
        let year = c.start.map(|d| d.0.year()).or(c.year.map(i32::from))?;
        return a.span(year);
    }
    let start = c.start?;
    let end = c.end.unwrap_or(start);
    Some((start.0, end.0.succ_opt().unwrap_or(end.0)))
}

/// `webcal://…` for an `http(s)://…` feed URL: the link a calendar app subscribes to (and
/// then refreshes) rather than downloading the file once. `None` for a relative URL.
pub fn webcal(url: &str) -> Option<String> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"))?;
    Some(format!("webcal://{rest}"))
}

/// Build `campaigns.ics` from every campaign with a start date or a fixed yearly date.
pub fn ics(site: &Site) -> String {
    let host = site
        .config
        .base_url_trimmed()
        .split("//")
        .nth(1)
        .unwrap_or("kepu")
        .split('/')
        .next()
        .unwrap_or("kepu")
        .to_string();
    let mut out = String::new();
    let mut line = |s: &str| fold(&mut out, s);
    line("BEGIN:VCALENDAR");
    line("VERSION:2.0");
    line(&format!("PRODID:-//kepu//{}//ZH", escape(&site.config.title)));
    line("CALSCALE:GREGORIAN");
    line("METHOD:PUBLISH");
    line(&format!("X-WR-CALNAME:{}", escape(&format!("{} 科普活动", site.config.title))));
    line("X-WR-TIMEZONE:Asia/Shanghai");
    for (_, p) in site.pages_of(PageType::Campaign) {
        let Some(Typed::Campaign(c)) = &p.typed else { continue };
        let Some((start, end_exclusive)) = event_span(c) else { continue };
        let stamp = p.meta.updated.or(p.meta.date).map_or(start, |d| d.0);
        line("BEGIN:VEVENT");
        line(&format!("UID:{}@{}", p.slug, host));
        line(&format!("DTSTAMP:{}T000000Z", stamp.format("%Y%m%d")));
        line(&format!("DTSTART;VALUE=DATE:{}", start.format("%Y%m%d")));
        line(&format!("DTEND;VALUE=DATE:{}", end_exclusive.format("%Y%m%d")));
        if c.annual.is_some() {
            // The month and day repeat from DTSTART (RFC 5545 §3.3.10).
            line("RRULE:FREQ=YEARLY");
        }
        line(&format!("SUMMARY:{}", escape(&p.title)));
        let about = p.meta.description.as_ref().or(Some(&p.summary)).filter(|d| !d.is_empty());
        let basis = c.annual.as_ref().map(|a| format!("{}。日期依据：{}", a.label(), a.basis));
        let description: Vec<&str> = [about.map(String::as_str), basis.as_deref()].into_iter().flatten().collect();
        if !description.is_empty() {
            line(&format!("DESCRIPTION:{}", escape(&description.join("\n"))));
        }
        let places: Vec<&str> = c.cities.iter().map(|s| crate::model::portal::city_full_name(s)).collect();
        if !places.is_empty() {
            line(&format!("LOCATION:{}", escape(&places.join("、"))));
        }
        line(&format!("URL:{}", site.permalink(&p.path)));
        line("END:VEVENT");
    }
    line("END:VCALENDAR");
    out
}

/// TEXT value escaping (RFC 5545 §3.3.11).
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace(';', "\\;").replace(',', "\\,").replace('\n', "\\n").replace('\r', "")
}

/// Append a content line folded at 75 octets (never inside a UTF-8 character), CRLF-ended.
fn fold(out: &mut String, line: &str) {
    let mut width = 0;
    for c in line.chars() {
        let n = c.len_utf8();
        if width + n > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += n;
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_keeps_lines_within_75_octets_and_characters_whole() {
        let mut out = String::new();
        fold(&mut out, &format!("SUMMARY:{}", "科普".repeat(40)));
        for l in out.split("\r\n") {
            assert!(l.len() <= 75, "{}", l.len());
        }
        let unfolded = out.replace("\r\n ", "");
        assert_eq!(unfolded.trim_end(), format!("SUMMARY:{}", "科普".repeat(40)));
    }

    #[test]
    fn webcal_is_the_same_address_for_calendar_apps() {
        assert_eq!(webcal("https://kepu.example.org/portal/campaigns.ics").as_deref(), Some("webcal://kepu.example.org/portal/campaigns.ics"));
        assert_eq!(webcal("http://127.0.0.1:8000/campaigns.ics").as_deref(), Some("webcal://127.0.0.1:8000/campaigns.ics"));
        assert_eq!(webcal("/campaigns.ics"), None);
    }

    #[test]
    fn a_yearly_date_is_placed_in_the_first_year_the_page_reports() {
        let annual = |month, day| crate::model::portal::Annual { month, day, basis: "x".into() };
        let mut c: Campaign = toml::from_str("kind = \"节日\"\nyear = 2023").unwrap();
        c.annual = Some(annual(5, Some(30)));
        let d = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(event_span(&c), Some((d("2023-05-30"), d("2023-05-31"))));
        c.annual = Some(annual(9, None));
        assert_eq!(event_span(&c), Some((d("2023-09-01"), d("2023-10-01"))));
        c.annual = Some(annual(12, None));
        assert_eq!(event_span(&c), Some((d("2023-12-01"), d("2024-01-01"))));
        // Without a year there is nothing to anchor the series.
        c.year = None;
        assert_eq!(event_span(&c), None);
    }

    #[test]
    fn escapes_text_values() {
        assert_eq!(escape("a,b;c\\d\ne"), "a\\,b\\;c\\\\d\\ne");
    }
}
