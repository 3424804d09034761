//! Numbers as editors and source documents write them (`11万`, `1.2亿`, `13.21`), reduced to one
//! plain decimal so that two spellings of the same value compare equal: front-matter hints show
//! `30万` as `300000`, and `kepu check --sources` finds a page's number in a document.

/// `int.frac × 10^shift` as a plain decimal without needless zeros (`7`, `9`, 4 → `79000`;
/// `13`, `210` → `13.21`), computed on the digits so that nothing is rounded.
pub fn canonical(int: &str, frac: &str, shift: usize) -> String {
    let digits = format!("{int}{frac}");
    let point = int.len() + shift;
    let (whole, rest) = if digits.len() <= point {
        (format!("{digits}{}", "0".repeat(point - digits.len())), String::new())
    } else {
        (digits[..point].to_string(), digits[point..].trim_end_matches('0').to_string())
    };
    let whole = whole.trim_start_matches('0');
    let whole = if whole.is_empty() { "0" } else { whole };
    if rest.is_empty() { whole.to_string() } else { format!("{whole}.{rest}") }
}

#[cfg(test)]
mod tests {
    use super::canonical;

    #[test]
    fn spellings_of_one_value_meet() {
        assert_eq!(canonical("7", "9", 4), "79000");
        assert_eq!(canonical("11", "", 4), "110000");
        assert_eq!(canonical("13", "210", 0), "13.21");
        assert_eq!(canonical("0", "5", 0), "0.5");
        assert_eq!(canonical("1", "2", 8), "120000000");
        assert_eq!(canonical("007", "", 0), "7");
    }
}
