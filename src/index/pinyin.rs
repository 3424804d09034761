//! Pinyin terms for short fields (titles, names, cities), so `kejiguan`, `ke ji guan` and
//! `kjg` find 科技馆. The client splits a Latin query into syllables with the list of
//! syllables the index uses (shipped in the manifest) and looks the resulting terms up like
//! any other. For Han queries it reads each character's common reading from a table the
//! index ships in small chunks ([`client_table`]), so that a homophone the IME picked
//! (科技管, 开风) is looked up by its sound too.
//!
//! Term shapes (the leading mark keeps them apart from word terms, which are alphanumeric):
//! - `~ke`      one syllable (a single character's reading),
//! - `+ke'ji`   two adjacent syllables, so a run of syllables is found like a Han substring,
//! - `^kj`      the initials of two adjacent characters (`zh`/`ch`/`sh` count as `z`/`c`/`s`).
//!
//! Characters with several readings contribute every reading (up to [`MAX_READINGS`]), so
//! 银行 is found as `yinhang` (and also, harmlessly, as `yinxing`).

use pinyin::ToPinyinMulti;

use super::tokenize::runs;

/// Readings kept per character. The pinyin data lists the common ones first; the second
/// is what heteronyms need (行 xing/hang, 长 zhang/chang, 重 zhong/chong), a third is rare
/// (行 heng, 还 fu) and only adds false matches.
pub const MAX_READINGS: usize = 2;

/// Mark of a one-syllable term.
pub const SYLLABLE: char = '~';
/// Mark of a two-syllable term; the syllables are joined with `'`.
pub const PAIR: char = '+';
/// Mark of an initials pair.
pub const INITIALS: char = '^';

/// First code point of the client's pinyin table: CJK Extension A, then the unified
/// ideographs, where the characters of nearly every query are.
pub const TABLE_FIRST: u32 = 0x3400;
/// End (exclusive) of the table.
pub const TABLE_END: u32 = 0xA000;
/// Characters per chunk: a chunk is about a kilobyte gzipped, and a query fetches the few
/// chunks its characters fall in.
pub const TABLE_CHUNK: u32 = 512;

/// The client's pinyin table, in chunks of [`TABLE_CHUNK`] code points from [`TABLE_FIRST`]:
/// each character's first reading, comma-separated, empty where the character has none or
/// its reading is no syllable of the index (`used`), which nothing could match. The client
/// builds pair terms (`+xu'chang`) from these readings; the index has every combination of
/// [`MAX_READINGS`] readings, so the first reading of a query character meets either reading
/// of a title's.
pub fn client_table(used: &std::collections::BTreeSet<&str>) -> Vec<String> {
    (TABLE_FIRST..TABLE_END)
        .step_by(TABLE_CHUNK as usize)
        .map(|start| {
            let entries: Vec<&str> = (start..(start + TABLE_CHUNK).min(TABLE_END))
                .map(|cp| {
                    let first = char::from_u32(cp).and_then(|c| static_readings(c).as_slice().first().copied());
                    first.filter(|r| used.contains(r)).unwrap_or("")
                })
                .collect();
            let mut text = entries.join(",");
            text.truncate(text.trim_end_matches(',').len());
            text
        })
        .collect()
}

/// Toneless readings of a (folded) Han character, most common first, ASCII only (`ü` → `v`).
pub fn readings(c: char) -> Vec<String> {
    static_readings(c).as_slice().iter().map(|r| r.to_string()).collect()
}

/// [`readings`] as the pinyin data's own static strings, without allocating: the indexer
/// reads every character of every title and name, and a `Vec` of `String`s per character
/// cost more than the terms made from them.
fn static_readings(c: char) -> Readings {
    let mut out = Readings { strs: [""; MAX_READINGS], len: 0 };
    if let Some(multi) = c.to_pinyin_multi() {
        for p in multi {
            let Some(plain) = ascii_reading(p.plain()) else { continue };
            if !out.as_slice().contains(&plain) {
                out.strs[out.len] = plain;
                out.len += 1;
            }
            if out.len == MAX_READINGS {
                break;
            }
        }
    }
    out
}

/// `readings` with a place-name reading (浚 in 浚县: `xun`) first, so that a county is found
/// by its name as it is said even when the dictionary's first readings are others.
fn with_place_reading(readings: Readings, place: Option<&'static str>) -> Readings {
    let Some(place) = place else { return readings };
    let mut out = Readings { strs: [""; MAX_READINGS], len: 1 };
    out.strs[0] = place;
    for r in readings.as_slice() {
        if out.len == MAX_READINGS {
            break;
        }
        if *r != place {
            out.strs[out.len] = r;
            out.len += 1;
        }
    }
    out
}

/// Up to [`MAX_READINGS`] readings of one character.
#[derive(Clone, Copy)]
struct Readings {
    strs: [&'static str; MAX_READINGS],
    len: usize,
}

impl Readings {
    fn as_slice(&self) -> &[&'static str] {
        &self.strs[..self.len]
    }
}

/// The ASCII form of a toneless reading, `None` for an empty or other non-ASCII one. Of
/// the pinyin data's toneless syllables only these four are not ASCII: `ü` is written `v`,
/// as pinyin keyboards type it.
fn ascii_reading(plain: &'static str) -> Option<&'static str> {
    match plain {
        "" => None,
        _ if plain.is_ascii() => Some(plain),
        "lü" => Some("lv"),
        "lüe" => Some("lve"),
        "nü" => Some("nv"),
        "nüe" => Some("nve"),
        _ => None,
    }
}

/// The pinyin terms of a short field, in a stable order (duplicates included: they count as
/// term frequency).
pub fn terms(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for_each_term(text, |t| out.push(t.to_string()));
    out
}

/// Call `f` with each of [`terms`], in the same order, without allocating a string per term:
/// the indexer only counts them, and building each with `format!` cost it more than
/// tokenizing the titles did.
pub fn for_each_term(text: &str, mut f: impl FnMut(&str)) {
    let mut term = String::new();
    for run in runs(text).into_iter().filter(|r| r.han) {
        let places = crate::model::place_names::readings_in(&run.text);
        let readings: Vec<Readings> =
            run.text.chars().zip(places).map(|(c, place)| with_place_reading(static_readings(c), place)).collect();
        for (i, rs) in readings.iter().enumerate() {
            let rs = rs.as_slice();
            for r in rs {
                term.clear();
                term.push(SYLLABLE);
                term.push_str(r);
                f(&term);
            }
            let Some(next) = readings.get(i + 1) else { continue };
            // Readings are ASCII and never empty, so an initial is one byte; sorted and
            // deduplicated, as a set of the strings would be.
            let mut initials: Vec<[u8; 2]> = Vec::new();
            for a in rs {
                for b in next.as_slice() {
                    term.clear();
                    term.push(PAIR);
                    term.push_str(a);
                    term.push('\'');
                    term.push_str(b);
                    f(&term);
                    initials.push([a.as_bytes()[0], b.as_bytes()[0]]);
                }
            }
            initials.sort_unstable();
            initials.dedup();
            for [a, b] in initials {
                term.clear();
                term.push(INITIALS);
                term.push(char::from(a));
                term.push(char::from(b));
                f(&term);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `readings` as it was, with a `String` made for each reading.
    fn readings_by_strings(c: char) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        if let Some(multi) = c.to_pinyin_multi() {
            for p in multi {
                let plain: String = p.plain().chars().map(|c| if c == 'ü' { 'v' } else { c }).collect();
                if !plain.is_empty() && plain.is_ascii() && !out.contains(&plain) {
                    out.push(plain);
                }
                if out.len() == MAX_READINGS {
                    break;
                }
            }
        }
        out
    }

    #[test]
    fn static_readings_are_the_readings_of_every_han_character() {
        let ranges = [0x3400..0xA000, 0xF900..0xFB00, 0x20000..0x32000];
        let mut with_v = 0;
        for c in ranges.into_iter().flatten().filter_map(char::from_u32) {
            let want = readings_by_strings(c);
            assert_eq!(readings(c), want, "{c}");
            with_v += usize::from(want.iter().any(|r| r.contains('v')));
        }
        assert!(with_v > 0, "some characters read lü or nü");
    }

    #[test]
    fn pairs_and_initials_of_a_name() {
        let t = terms("科技馆");
        for want in ["~ke", "~ji", "~guan", "+ke'ji", "+ji'guan", "^kj", "^jg"] {
            assert!(t.iter().any(|x| x == want), "{want} missing from {t:?}");
        }
    }

    #[test]
    fn county_names_are_found_by_their_place_name_reading() {
        for (name, pair) in [("浚县", "+xun'xian"), ("长垣", "+chang'yuan"), ("郏县", "+jia'xian"), ("中牟", "+zhong'mu")] {
            let t = terms(&format!("{name}科技馆"));
            assert!(t.iter().any(|x| x == pair), "{name}: {pair} missing from {t:?}");
        }
        // Outside a place name nothing changes: 浚 alone is read as the dictionary reads it.
        assert_eq!(terms("浚"), readings('浚').iter().map(|r| format!("~{r}")).collect::<Vec<_>>());
    }

    #[test]
    fn heteronyms_give_every_reading() {
        let t = terms("银行");
        assert!(t.iter().any(|x| x == "+yin'hang"), "{t:?}");
        assert!(t.iter().any(|x| x == "^yh"), "{t:?}");
    }

    #[test]
    fn the_client_table_holds_each_characters_first_used_reading() {
        let used: std::collections::BTreeSet<&str> = ["ke", "ji", "guan", "xing"].into_iter().collect();
        let table = client_table(&used);
        assert_eq!(table.len() as u32, (TABLE_END - TABLE_FIRST).div_ceil(TABLE_CHUNK));
        let reading = |c: char| {
            let at = c as u32 - TABLE_FIRST;
            let chunk = &table[(at / TABLE_CHUNK) as usize];
            chunk.split(',').nth((at % TABLE_CHUNK) as usize).unwrap_or("").to_string()
        };
        assert_eq!(reading('管'), "guan");
        assert_eq!(reading('馆'), "guan");
        assert_eq!(reading('行'), "xing");
        assert_eq!(reading('郑'), "", "zheng is not used by this index");
    }

    #[test]
    fn traditional_names_get_pinyin_too() {
        assert!(terms("鄭州").iter().any(|x| x == "+zheng'zhou"));
    }
}
