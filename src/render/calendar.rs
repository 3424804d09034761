//! The campaign calendar as iCalendar (RFC 5545): a feed visitors subscribe to in their
//! calendar app. Deterministic: no wall-clock DTSTAMP; it is derived from the content.

use crate::model::date::Date;
use crate::model::portal::Campaign;
use crate::model::{PageType, Site, Typed};

/// `2024年9月15日—9月21日`, or the single day, or the year when only that is known.
pub fn dates_label(c: &Campaign) -> Option<String> {
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

/// The calendar's subscription link: `https://host/campaigns.ics` → `webcal://host/campaigns.ics`.
/// Phones hand webcal:// to their calendar app, which subscribes and keeps the events up to
/// date; an http(s) link only downloads the file once.
pub fn webcal_url(permalink: &str) -> String {
    match permalink.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") => format!("webcal://{rest}"),
        _ => permalink.to_string(),
    }
}

/// Build `campaigns.ics` from every campaign with a start date.
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
        let Some(start) = c.start else { continue };
        let end = c.end.unwrap_or(start);
        let end_exclusive = end.0.succ_opt().unwrap_or(end.0);
        let stamp = p.meta.updated.or(p.meta.date).unwrap_or(start);
        line("BEGIN:VEVENT");
        line(&format!("UID:{}@{}", p.slug, host));
        line(&format!("DTSTAMP:{}T000000Z", stamp.0.format("%Y%m%d")));
        line(&format!("DTSTART;VALUE=DATE:{}", start.0.format("%Y%m%d")));
        line(&format!("DTEND;VALUE=DATE:{}", end_exclusive.format("%Y%m%d")));
        line(&format!("SUMMARY:{}", escape(&p.title)));
        if let Some(d) = p.meta.description.as_ref().or(Some(&p.summary)).filter(|d| !d.is_empty()) {
            line(&format!("DESCRIPTION:{}", escape(d)));
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
    fn the_subscription_link_is_webcal_on_the_same_host_and_path() {
        assert_eq!(webcal_url("https://kepu.example.org/campaigns.ics"), "webcal://kepu.example.org/campaigns.ics");
        assert_eq!(webcal_url("http://127.0.0.1:8000/portal/campaigns.ics"), "webcal://127.0.0.1:8000/portal/campaigns.ics");
        assert_eq!(webcal_url("/campaigns.ics"), "/campaigns.ics");
    }

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
    fn escapes_text_values() {
        assert_eq!(escape("a,b;c\\d\ne"), "a\\,b\\;c\\\\d\\ne");
    }
}
