//! A generated portal of any size for benchmarks: valid typed front matter (per
//! docs/content-model.md), Chinese bodies, cross references (campaigns naming venues, bases
//! and experts; internal `@/` links between pages; tags), so that incremental rebuilds have
//! real dependencies to follow. Deterministic: the same `n` gives the same files.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::Path;

const CITIES: [(&str, &str); 18] = [
    ("郑州", "zheng-zhou"), ("开封", "kai-feng"), ("洛阳", "luo-yang"), ("平顶山", "ping-ding-shan"),
    ("安阳", "an-yang"), ("鹤壁", "he-bi"), ("新乡", "xin-xiang"), ("焦作", "jiao-zuo"),
    ("濮阳", "pu-yang"), ("许昌", "xu-chang"), ("漯河", "luo-he"), ("三门峡", "san-men-xia"),
    ("南阳", "nan-yang"), ("商丘", "shang-qiu"), ("信阳", "xin-yang"), ("周口", "zhou-kou"),
    ("驻马店", "zhu-ma-dian"), ("济源", "ji-yuan"),
];

const SENTENCES: [&str; 12] = [
    "这里常年开放科学实验室和互动展品，孩子们可以亲手操作，体会力学和光学的奥妙。",
    "场馆与周边中小学开展馆校合作，把科学课搬进展厅，每学期接待学生上万人次。",
    "科普志愿者定期走进社区和乡村，讲解防灾减灾、健康生活和节约用水的知识。",
    "今年新增了人工智能和航天主题展区，展示无人机、卫星模型和机器人编程。",
    "基地面向公众免费开放，节假日还会举办科学秀、科普讲座和亲子科学营。",
    "专家团队用通俗的语言解读前沿科技，让公众了解量子通信、基因编辑等新知识。",
    "活动期间，全市共组织科普展览、科技讲座和科学实验表演数百场，吸引大量市民参与。",
    "农技人员深入田间地头，指导农民科学种植小麦和玉米，推广节水灌溉技术。",
    "科普大篷车开进偏远山区学校，让更多农村孩子看到了精彩的科学展品。",
    "馆内的古代科技展厅介绍了中原地区的天文、冶铸和水利成就。",
    "青少年科技创新大赛吸引了众多学生参赛，涌现出一批优秀的科技小发明。",
    "预约参观请关注场馆官方发布的信息，开放时间以官方公告为准。",
];

/// Page counts per section for a corpus of `n` pages (besides the 18 cities).
fn split(n: usize) -> [(&'static str, usize); 4] {
    let venues = n * 4 / 10;
    let bases = n * 3 / 10;
    let experts = n / 10;
    [("venues", venues), ("bases", bases), ("experts", experts), ("campaigns", n - venues - bases - experts)]
}

/// Relative path (under content/) of page `i` of `section`.
pub fn page_rel(section: &str, i: usize) -> String {
    format!("{section}/{}-{i:05}.md", &section[..section.len() - 1])
}

fn title(section: &str, i: usize) -> String {
    let (city, _) = CITIES[i % 18];
    match section {
        "venues" => format!("{city}第{i}号科技馆"),
        "bases" => format!("{city}第{i}号科普教育基地"),
        "experts" => format!("{city}第{i}批首席科普专家"),
        _ => format!("{city}第{i}届科普活动周"),
    }
}

fn body(seed: usize, links: &[String]) -> String {
    let mut out = String::new();
    for h in 0..3 {
        let _ = writeln!(out, "## 第{}部分\n", ["一", "二", "三"][h]);
        for k in 0..4 {
            out.push_str(SENTENCES[(seed + h * 4 + k) % SENTENCES.len()]);
        }
        out.push_str("\n\n");
    }
    if !links.is_empty() {
        out.push_str("## 相关\n\n");
        for l in links {
            let _ = writeln!(out, "- [相关页面](@/{l})");
        }
    }
    out
}

/// Write a site with `n` typed pages (plus 18 city pages) into `dir`, replacing what is there.
pub fn generate(dir: &Path, n: usize) -> io::Result<()> {
    if dir.exists() {
        fs::remove_dir_all(dir)?;
    }
    let content = dir.join("content");
    fs::create_dir_all(&content)?;
    fs::write(
        dir.join("config.toml"),
        "title = \"科普中原（生成）\"\nbase_url = \"https://example.org/\"\ntheme = \"default\"\n\n[[taxonomies]]\nname = \"tags\"\ntitle = \"标签\"\n\n[search]\nenabled = true\n",
    )?;
    fs::write(content.join("_index.md"), "+++\ntitle = \"科普中原\"\n+++\n\n生成的测试门户。\n")?;
    let counts = split(n);
    let sections = [
        ("venues", "科技馆", "venue"), ("bases", "科普基地", "base"), ("experts", "科普专家", "expert"),
        ("campaigns", "科普活动", "campaign"), ("cities", "城市", "city"),
    ];
    for (dir_name, t, ty) in sections {
        fs::create_dir_all(content.join(dir_name))?;
        fs::write(
            content.join(dir_name).join("_index.md"),
            format!("+++\ntitle = \"{t}\"\nsort_by = \"weight\"\npaginate_by = 20\npage_type = \"{ty}\"\n+++\n\n{t}列表。\n"),
        )?;
    }
    for (k, (name, slug)) in CITIES.iter().enumerate() {
        let kind = if *name == "济源" { "示范区" } else { "省辖市" };
        fs::write(
            content.join("cities").join(format!("{slug}.md")),
            format!("+++\ntitle = \"{name}\"\nweight = {k}\nsources = [\"gen.txt\"]\n\n[city]\nname = \"{name}\"\nkind = \"{kind}\"\n+++\n\n{}\n", SENTENCES[k % 12]),
        )?;
    }
    for (section, count) in counts {
        for i in 0..count {
            let city = CITIES[i % 18].0;
            let mut fm = format!("+++\ntitle = \"{}\"\ndescription = \"{}\"\nweight = {i}\ndate = \"2024-{:02}-{:02}\"\nsources = [\"gen.txt\"]\n", title(section, i), SENTENCES[i % 12], i % 12 + 1, i % 28 + 1);
            let _ = writeln!(fm, "\n[taxonomies]\ntags = [\"标签{}\", \"{city}\"]\n", i % 50);
            match section {
                "venues" => { let _ = write!(fm, "[venue]\nkind = \"市级\"\ncity = \"{city}\"\nstatus = \"已开放\"\nexhibits = {}\n", 100 + i); }
                "bases" => { let _ = write!(fm, "[base]\ncategory = \"科普教育基地\"\nlevel = \"省级\"\ncity = \"{city}\"\n"); }
                "experts" => { let _ = write!(fm, "[expert]\nkind = \"批次\"\nscope = \"市级\"\ncity = \"{city}\"\ncount = {}\n", 10 + i % 40); }
                _ => {
                    let v = counts[0].1;
                    let b = counts[1].1;
                    let venues: Vec<String> = (0..2).filter(|_| v > 0).map(|k| format!("\"{}\"", title("venues", (i * 7 + k * 13) % v))).collect();
                    let bases: Vec<String> = (0..1).filter(|_| b > 0).map(|k| format!("\"{}\"", title("bases", (i * 5 + k) % b))).collect();
                    let _ = write!(fm, "[campaign]\nkind = \"节日\"\nstart = \"2024-05-{:02}\"\nend = \"2024-05-{:02}\"\nyear = 2024\ncities = [\"{city}\"]\nvenues = [{}]\nbases = [{}]\n", i % 20 + 1, i % 20 + 3, venues.join(", "), bases.join(", "));
                }
            }
            fm.push_str("+++\n\n");
            // Each page links to two others of its own section (earlier ones, so links exist).
            let links: Vec<String> = if i >= 2 { vec![page_rel(section, i / 2), page_rel(section, i - 1)] } else { vec![] };
            fm.push_str(&body(i, &links));
            fs::write(content.join(page_rel(section, i)), fm)?;
        }
    }
    Ok(())
}
