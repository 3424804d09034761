//! Henan's county and district names read as places are read. A character-by-character
//! pinyin dictionary gives a polyphonic character its most common reading, which for a place
//! name is often wrong: 长垣 is *chang-yuan*, not *zhang-yuan*; 浚县 *xun-xian*, not
//! *jun-xian*; 郏县 *jia-xian*, not *xia-xian*. URL slugs ([`super::slug::slugify`]) and the
//! search index's pinyin terms both take their readings from [`readings_in`], so a page about
//! 长垣 gets `chang-yuan` in its file name and is found by typing `changyuan`.
//!
//! The table is short and reviewed by hand: the names of the province's counties,
//! county-level cities and districts (and its cities) that hold a character the dictionary
//! reads more than one way. [`COUNTY_NAMES`] lists every county-level name, so a test finds
//! any such name the table is missing.

use std::collections::HashMap;
use std::sync::OnceLock;

/// Place name → its toneless readings, one syllable per character, space-separated. A name is
/// written as short as it stays unambiguous: `长垣` (长垣市, 长垣县 in older texts), but
/// `叶县` and `浚县`, since 叶 and 浚 alone are ordinary words too. (叶县 reads *ye-xian*: *she*
/// is the old reading, no longer the standard one.)
pub const PLACE_READINGS: &[(&str, &str)] = &[
    // 郑州
    ("中牟", "zhong mu"),
    ("荥阳", "xing yang"),
    ("巩义", "gong yi"),
    ("管城", "guan cheng"),
    ("上街", "shang jie"),
    ("二七", "er qi"),
    ("登封", "deng feng"),
    // 开封
    ("尉氏", "wei shi"),
    ("禹王台", "yu wang tai"),
    ("龙亭", "long ting"),
    ("顺河", "shun he"),
    ("鼓楼", "gu lou"),
    ("杞县", "qi xian"),
    ("兰考", "lan kao"),
    ("祥符", "xiang fu"),
    ("通许", "tong xu"),
    // 洛阳
    ("瀍河", "chan he"),
    ("偃师", "yan shi"),
    ("涧西", "jian xi"),
    ("栾川", "luan chuan"),
    ("嵩县", "song xian"),
    ("洛宁", "luo ning"),
    ("孟津", "meng jin"),
    ("汝阳", "ru yang"),
    ("伊川", "yi chuan"),
    ("洛龙", "luo long"),
    ("西工", "xi gong"),
    // 平顶山
    ("叶县", "ye xian"),
    ("郏县", "jia xian"),
    ("石龙", "shi long"),
    ("湛河", "zhan he"),
    ("鲁山", "lu shan"),
    ("宝丰", "bao feng"),
    ("舞钢", "wu gang"),
    ("汝州", "ru zhou"),
    ("平顶山", "ping ding shan"),
    // 安阳
    ("滑县", "hua xian"),
    ("汤阴", "tang yin"),
    ("内黄", "nei huang"),
    ("殷都", "yin du"),
    ("北关", "bei guan"),
    ("林州", "lin zhou"),
    // 鹤壁
    ("浚县", "xun xian"),
    ("淇县", "qi xian"),
    ("淇滨", "qi bin"),
    ("鹤壁", "he bi"),
    // 新乡
    ("长垣", "chang yuan"),
    ("获嘉", "huo jia"),
    ("卫辉", "wei hui"),
    ("辉县", "hui xian"),
    ("封丘", "feng qiu"),
    ("延津", "yan jin"),
    ("原阳", "yuan yang"),
    ("凤泉", "feng quan"),
    ("红旗", "hong qi"),
    ("牧野", "mu ye"),
    // 焦作
    ("武陟", "wu zhi"),
    ("沁阳", "qin yang"),
    ("解放区", "jie fang qu"),
    ("中站", "zhong zhan"),
    ("马村", "ma cun"),
    ("山阳", "shan yang"),
    ("博爱", "bo ai"),
    ("孟州", "meng zhou"),
    ("修武", "xiu wu"),
    ("温县", "wen xian"),
    // 濮阳
    ("濮阳", "pu yang"),
    ("南乐", "nan le"),
    ("台前", "tai qian"),
    ("清丰", "qing feng"),
    ("范县", "fan xian"),
    ("华龙", "hua long"),
    // 许昌
    ("长葛", "chang ge"),
    ("鄢陵", "yan ling"),
    ("襄城", "xiang cheng"),
    ("禹州", "yu zhou"),
    ("魏都", "wei du"),
    ("建安", "jian an"),
    // 漯河
    ("漯河", "luo he"),
    ("召陵", "shao ling"),
    ("郾城", "yan cheng"),
    ("临颍", "lin ying"),
    ("源汇", "yuan hui"),
    ("舞阳", "wu yang"),
    // 三门峡
    ("陕州", "shan zhou"),
    ("渑池", "mian chi"),
    ("卢氏", "lu shi"),
    ("灵宝", "ling bao"),
    ("义马", "yi ma"),
    ("湖滨", "hu bin"),
    ("三门峡", "san men xia"),
    // 南阳
    ("南召", "nan zhao"),
    ("淅川", "xi chuan"),
    ("宛城", "wan cheng"),
    ("卧龙", "wo long"),
    ("社旗", "she qi"),
    ("唐河", "tang he"),
    ("新野", "xin ye"),
    ("桐柏", "tong bai"),
    ("邓州", "deng zhou"),
    ("方城", "fang cheng"),
    ("西峡", "xi xia"),
    ("镇平", "zhen ping"),
    ("内乡", "nei xiang"),
    // 商丘
    ("睢县", "sui xian"),
    ("睢阳", "sui yang"),
    ("柘城", "zhe cheng"),
    ("宁陵", "ning ling"),
    ("虞城", "yu cheng"),
    ("夏邑", "xia yi"),
    ("永城", "yong cheng"),
    ("梁园", "liang yuan"),
    ("民权", "min quan"),
    // 信阳
    ("浉河", "shi he"),
    ("潢川", "huang chuan"),
    ("商城", "shang cheng"),
    ("固始", "gu shi"),
    ("光山", "guang shan"),
    ("罗山", "luo shan"),
    ("淮滨", "huai bin"),
    ("息县", "xi xian"),
    ("新县", "xin xian"),
    ("平桥", "ping qiao"),
    // 周口
    ("沈丘", "shen qiu"),
    ("郸城", "dan cheng"),
    ("鹿邑", "lu yi"),
    ("扶沟", "fu gou"),
    ("西华", "xi hua"),
    ("商水", "shang shui"),
    ("太康", "tai kang"),
    ("项城", "xiang cheng"),
    ("淮阳", "huai yang"),
    ("川汇", "chuan hui"),
    // 驻马店
    ("泌阳", "bi yang"),
    ("平舆", "ping yu"),
    ("确山", "que shan"),
    ("上蔡", "shang cai"),
    ("新蔡", "xin cai"),
    ("汝南", "ru nan"),
    ("遂平", "sui ping"),
    ("西平", "xi ping"),
    ("正阳", "zheng yang"),
    ("驿城", "yi cheng"),
    // 济源
    ("济源", "ji yuan"),
];

/// Every county, county-level city and district of Henan (2024), as written with its
/// suffix. Only for the test that the table misses none with a polyphonic character.
pub const COUNTY_NAMES: &[&str] = &[
    "中原区", "二七区", "管城回族区", "金水区", "上街区", "惠济区", "中牟县", "巩义市", "荥阳市", "新密市", "新郑市", "登封市",
    "龙亭区", "顺河回族区", "鼓楼区", "禹王台区", "祥符区", "杞县", "通许县", "尉氏县", "兰考县",
    "老城区", "西工区", "瀍河回族区", "涧西区", "偃师区", "孟津区", "洛龙区", "新安县", "栾川县", "嵩县", "汝阳县", "宜阳县", "洛宁县", "伊川县",
    "新华区", "卫东区", "石龙区", "湛河区", "宝丰县", "叶县", "鲁山县", "郏县", "舞钢市", "汝州市",
    "文峰区", "北关区", "殷都区", "龙安区", "安阳县", "汤阴县", "滑县", "内黄县", "林州市",
    "鹤山区", "山城区", "淇滨区", "浚县", "淇县",
    "红旗区", "卫滨区", "凤泉区", "牧野区", "新乡县", "获嘉县", "原阳县", "延津县", "封丘县", "卫辉市", "辉县市", "长垣市",
    "解放区", "中站区", "马村区", "山阳区", "修武县", "博爱县", "武陟县", "温县", "沁阳市", "孟州市",
    "华龙区", "清丰县", "南乐县", "范县", "台前县", "濮阳县",
    "魏都区", "建安区", "鄢陵县", "襄城县", "禹州市", "长葛市",
    "源汇区", "郾城区", "召陵区", "舞阳县", "临颍县",
    "湖滨区", "陕州区", "渑池县", "卢氏县", "义马市", "灵宝市",
    "宛城区", "卧龙区", "南召县", "方城县", "西峡县", "镇平县", "内乡县", "淅川县", "社旗县", "唐河县", "新野县", "桐柏县", "邓州市",
    "梁园区", "睢阳区", "民权县", "睢县", "宁陵县", "柘城县", "虞城县", "夏邑县", "永城市",
    "浉河区", "平桥区", "罗山县", "光山县", "新县", "商城县", "固始县", "潢川县", "淮滨县", "息县",
    "川汇区", "淮阳区", "扶沟县", "西华县", "商水县", "沈丘县", "郸城县", "太康县", "鹿邑县", "项城市",
    "驿城区", "西平县", "上蔡县", "平舆县", "正阳县", "确山县", "泌阳县", "汝南县", "遂平县", "新蔡县",
];

/// The names by first character, longest first, each as its characters and syllables: a
/// list sorted by the character, searched by halving (a slug is made for every chart's and
/// term's name as pages are rendered; hashing each character cost more than the search).
type ByFirstChar = Vec<(char, Vec<(Vec<char>, Vec<&'static str>)>)>;

fn by_first_char() -> &'static ByFirstChar {
    static TABLE: OnceLock<ByFirstChar> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut map: HashMap<char, Vec<(Vec<char>, Vec<&'static str>)>> = HashMap::new();
        for (name, reading) in PLACE_READINGS {
            let chars: Vec<char> = name.chars().collect();
            let syllables: Vec<&'static str> = reading.split(' ').collect();
            map.entry(chars[0]).or_default().push((chars, syllables));
        }
        let mut table: ByFirstChar = map.into_iter().collect();
        for (_, names) in &mut table {
            names.sort_by(|a, b| b.0.len().cmp(&a.0.len()));
        }
        table.sort_unstable_by_key(|(c, _)| *c);
        table
    })
}

/// The names starting with `c`.
fn names_starting_with(c: char) -> Option<&'static [(Vec<char>, Vec<&'static str>)]> {
    let table = by_first_char();
    table.binary_search_by_key(&c, |(first, _)| *first).ok().map(|i| table[i].1.as_slice())
}

/// For each character of `text`, the place-name reading it has there, if it is part of a
/// name in [`PLACE_READINGS`] (the longest name wins; names do not overlap).
pub fn readings_in(text: &str) -> Vec<Option<&'static str>> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = vec![None; chars.len()];
    let mut i = 0;
    while i < chars.len() {
        let found = names_starting_with(chars[i])
            .and_then(|names| names.iter().find(|(name, _)| chars[i..].starts_with(name)));
        match found {
            Some((name, syllables)) => {
                for (k, s) in syllables.iter().enumerate() {
                    out[i + k] = Some(*s);
                }
                i += name.len();
            }
            None => i += 1,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use pinyin::ToPinyinMulti;

    /// The dictionary's toneless readings of `c`.
    fn dictionary(c: char) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        if let Some(multi) = c.to_pinyin_multi() {
            for p in multi {
                let r = p.plain().replace('ü', "v");
                if !out.contains(&r) {
                    out.push(r);
                }
            }
        }
        out
    }

    #[test]
    fn every_name_is_found_by_its_first_character() {
        for (name, reading) in PLACE_READINGS {
            let chars: Vec<char> = name.chars().collect();
            let names = names_starting_with(chars[0]).unwrap_or_else(|| panic!("{name} not found"));
            assert!(names.iter().any(|(n, s)| *n == chars && s.join(" ") == *reading), "{name}");
        }
        assert!(names_starting_with('a').is_none());
    }

    #[test]
    fn the_table_names_each_place_once_with_a_real_reading_per_character() {
        let mut seen = std::collections::HashSet::new();
        let mut wrong = Vec::new();
        for (name, reading) in PLACE_READINGS {
            assert!(seen.insert(*name), "{name} twice");
            let syllables: Vec<&str> = reading.split(' ').collect();
            let chars: Vec<char> = name.chars().collect();
            assert_eq!(syllables.len(), chars.len(), "{name}: one syllable per character");
            for (c, s) in chars.iter().zip(&syllables) {
                if !dictionary(*c).iter().any(|r| r == s) {
                    wrong.push(format!("{name}: `{s}` is not a reading of {c} ({:?})", dictionary(*c)));
                }
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn every_county_name_with_a_polyphonic_character_is_in_the_table() {
        assert!(COUNTY_NAMES.len() > 150, "{}", COUNTY_NAMES.len());
        let mut missing = Vec::new();
        for county in COUNTY_NAMES {
            // The suffixes (县 区 市 回族) read as usual.
            let stem = county.trim_end_matches(['县', '区', '市']).trim_end_matches("回族");
            // A one-character stem is written with its suffix (浚县): the table cannot hold 浚.
            let n = stem.chars().count().max(2);
            let polyphonic = county.chars().take(n).any(|c| dictionary(c).len() > 1);
            let covered = readings_in(county).iter().take(n).all(Option::is_some);
            if polyphonic && !covered {
                let readings: Vec<String> = county.chars().take(n).map(|c| format!("{c}{:?}", dictionary(c))).collect();
                missing.push(format!("{county} {}", readings.join(" ")));
            }
        }
        assert!(missing.is_empty(), "names with a character of several readings, not in the table:\n{}", missing.join("\n"));
    }

    #[test]
    fn place_names_read_as_places() {
        let read = |text: &str| readings_in(text).into_iter().flatten().collect::<Vec<_>>().join(" ");
        assert_eq!(read("长垣市"), "chang yuan");
        assert_eq!(read("浚县"), "xun xian");
        assert_eq!(read("郏县"), "jia xian");
        assert_eq!(read("叶县科技馆"), "ye xian");
        assert_eq!(read("中牟县"), "zhong mu");
        assert_eq!(read("召陵区和南召县"), "shao ling nan zhao");
        // Only whole names: 叶 alone is a leaf, 长 alone is long.
        assert_eq!(readings_in("树叶长"), vec![None, None, None]);
        assert_eq!(read(""), "");
    }
}
