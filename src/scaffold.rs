//! `kepu init` and `kepu new`: files an editor starts from. Every skeleton builds as is, as a
//! draft: what only the editor knows is a placeholder that the model refuses to publish
//! ([`crate::model::placeholder`]), and the commented examples pass the checks once
//! uncommented.

use std::path::{Path, PathBuf};

use crate::model::placeholder;
use crate::model::portal::{self, PageType};
use crate::model::slug::slugify;

/// Why a skeleton could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error("{0} already exists and is not empty")]
    NotEmpty(PathBuf),
    #[error("{0} already exists; choose another name or edit that file")]
    Exists(PathBuf),
    #[error("unknown content type `{0}`; use one of: venue, base, expert, campaign, city")]
    UnknownType(String),
    #[error("the name is empty")]
    EmptyName,
    #[error("`{0}` is not one of the 18 cities; a city page is for one of: {1}")]
    NotACity(String, String),
    #[error("cannot write {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

fn write(path: &Path, text: &str) -> Result<(), ScaffoldError> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(|source| ScaffoldError::Io { path: d.to_path_buf(), source })?;
    }
    std::fs::write(path, text).map_err(|source| ScaffoldError::Io { path: path.to_path_buf(), source })
}

/// Create a minimal new site in `dir` (which must be empty or absent). It uses the built-in
/// default theme.
pub fn init(dir: &Path, title: &str) -> Result<Vec<PathBuf>, ScaffoldError> {
    if dir.exists() && std::fs::read_dir(dir).map(|mut d| d.next().is_some()).unwrap_or(true) {
        return Err(ScaffoldError::NotEmpty(dir.to_path_buf()));
    }
    let files = [
        (
            "config.toml",
            format!(
                "title = \"{title}\"\ndescription = \"\"\nbase_url = \"https://example.org/\"\ndefault_language = \"zh\"\ntheme = \"default\"\n\n[[taxonomies]]\nname = \"tags\"\ntitle = \"标签\"\n"
            ),
        ),
        // The image cache (.kepu-cache/) is rebuilt from the photos; it is never committed.
        (".gitignore", "/public/\n/.kepu-cache/\n".to_string()),
        (
            "content/_index.md",
            format!(
                "+++\ntitle = \"{title}\"\nsort_by = \"weight\"\n+++\n\n欢迎访问{title}。\n\n\
                 {{% <notice kind=\"提示\"> %}}\n这是一个组件（Tera 2 的写法，见 kepu 的 docs/components.md）：\
                 页面里还可以放视频、图片、图表和其他页面的卡片。这段提示可以删掉。\n{{% </notice> %}}\n"
            ),
        ),
        (
            "content/venues/_index.md",
            "+++\ntitle = \"场馆\"\npage_type = \"venue\"\nweight = 1\n+++\n\n本地的科技馆。\n".to_string(),
        ),
        ("static/.keep", String::new()),
    ];
    let mut written = Vec::new();
    for (rel, text) in files {
        let p = dir.join(rel);
        write(&p, &text)?;
        written.push(p);
    }
    Ok(written)
}

/// Write a new content file of type `kind` named `name` under `root/content/<section>/`,
/// with a pinyin file name. Returns the path. A city page takes its city from the name
/// (`新乡` or `新乡市`), is titled with the full name and named after the short one
/// (`cities/xin-xiang.md`), so that a second page for a city is refused here.
///
/// With `bundle`, the page is a folder (`venues/x/index.md`) so that its photos can sit beside
/// it (`cover = "cover.jpg"`); a page is refused if either form of it exists already.
pub fn new_page(root: &Path, kind: &str, name: &str, bundle: bool) -> Result<PathBuf, ScaffoldError> {
    let t = PageType::parse(kind).ok_or_else(|| ScaffoldError::UnknownType(kind.to_string()))?;
    let mut name = name.trim();
    let mut file_name = name;
    if t == PageType::City {
        let (short, full) = portal::CITIES.iter().find(|(short, full)| name == *short || name == *full).ok_or_else(|| {
            let all = portal::CITIES.iter().map(|(s, _)| *s).collect::<Vec<_>>().join(" ");
            ScaffoldError::NotACity(name.to_string(), all)
        })?;
        (name, file_name) = (full, short);
    }
    let slug = slugify(file_name);
    if name.is_empty() || slug.is_empty() {
        return Err(ScaffoldError::EmptyName);
    }
    let section = section_for(root, t);
    let folder = root.join("content").join(&section);
    let (single, bundled) = (folder.join(format!("{slug}.md")), folder.join(&slug).join("index.md"));
    if let Some(existing) = [&single, &bundled].into_iter().find(|p| p.exists()) {
        return Err(ScaffoldError::Exists(existing.clone()));
    }
    let path = if bundle { bundled } else { single };
    write(&path, &skeleton(t, name, file_name))?;
    Ok(path)
}

/// The folder whose `_index.md` declares `page_type = t`, else the conventional plural.
fn section_for(root: &Path, t: PageType) -> String {
    let content = root.join("content");
    for entry in walkdir::WalkDir::new(&content).sort_by_file_name().into_iter().flatten() {
        if entry.file_name() == "_index.md" {
            if let Ok(text) = std::fs::read_to_string(entry.path()) {
                let declared = text.lines().any(|l| {
                    let l = l.replace(' ', "");
                    l == format!("page_type=\"{}\"", t.key()) || l == format!("page_type:{}", t.key())
                });
                if declared {
                    if let Some(dir) = entry.path().parent().and_then(|d| d.strip_prefix(&content).ok()) {
                        return dir.to_string_lossy().into_owned();
                    }
                }
            }
        }
    }
    match t {
        PageType::City => "cities".into(),
        other => format!("{}s", other.key()),
    }
}

/// The front matter and body of a new page. `city` is the city's short name, for city pages.
fn skeleton(t: PageType, name: &str, city: &str) -> String {
    // Required choices the page cannot build without: an example value (for a venue one that
    // needs no city, so that the draft previews), marked so that it is not published until the
    // editor has chosen.
    let example = placeholder::EXAMPLE;
    let table = match t {
        PageType::Venue => format!(
            "[venue]\n\
             # 类型（必填），选一个：省级 市级 县级 流动科技馆 农村中学科技馆 科普大篷车 数字科技馆\n\
             kind = \"流动科技馆\"  {example}\n\
             # city = \"郑州\"               # 18 个城市简称之一；省级/市级/县级场馆必填\n\
             # aliases = []                  # 资料里用的正式简称，如 \"省科技馆\"；搜索按名称找到本页\n\
             # status = \"已开放\"            # 已开放 在建 筹建 改扩建\n\
             # address = \"\"\n\
             # opening_days = \"\"\n\
             # opening_hours = \"\"\n\
             # booking = \"\"\n\
             # building_area_m2 = 20000     # 建筑面积，平方米；资料里没有就不写\n\
             # exhibition_area_m2 = 5000     # 展览（布展）面积，平方米；资料里没有就不写\n\
             # open_area_m2 = 10000          # 开放面积，平方米；资料里没有就不写\n\
             # halls = []\n\
             # annual_visitors = 300000      # 人次，填正数；资料里没有就不写\n\
             # visitors_year = 2024          # 观众人数是哪一年的，四位年份\n"
        ),
        PageType::Base => format!(
            "[base]\n\
             # 类别（必填），选一个：科普教育基地 科学家精神教育基地 科技小院 科普研学基地 科普示范县 基地联盟 科普阵地（资料没写正式认定的，选科普阵地）\n\
             category = \"科普教育基地\"  {example}\n\
             # level = \"省级\"              # 国家级 省级 市级\n\
             # city = \"郑州\"\n\
             # operator = \"\"\n\
             # recognised_year = 2024       # 四位年份\n\
             # offers = []\n"
        ),
        PageType::Expert => format!(
            "[expert]\n\
             # 类型（必填），选一个：批次 工作室 个人（个人须有来源）\n\
             kind = \"批次\"  {example}\n\
             # 级别（必填），选一个：省级 市级（市级须填 city）\n\
             scope = \"省级\"  {example}\n\
             # city = \"郑州\"\n\
             # batch = \"第一批\"\n\
             # year = 2025                   # 四位年份\n\
             # count = 10                    # 人数，填正数\n"
        ),
        PageType::Campaign => format!(
            "[campaign]\n\
             # 类型（必填），选一个：节日 竞赛 巡展巡讲 志愿服务 培训 评选 讲坛 其他\n\
             kind = \"其他\"  {example}\n\
             # start = 2025-09-01\n\
             # end = 2025-09-30\n\
             # recurrence = \"每年\"         # 每年 一次性 常态化；资料没写频次就不填\n\
             # year = 2025                   # 数字是哪一年的，四位年份\n\
             # organisers = []\n\
             # cities = []\n\
             # venues = []                   # 场馆页面的标题\n\
             # activities = 10               # 填正数\n\
             # participants = 1000           # 填正数\n"
        ),
        PageType::City => {
            let kind = if city == "济源" { "示范区" } else { "省辖市" };
            format!("[city]\nname = \"{city}\"\nkind = \"{kind}\"              # 省辖市 示范区\n")
        }
        PageType::Overview => "[overview]\n".to_string(),
    };
    let cover = "\
        # 封面照片（可选），用在卡片、页面顶部和分享预览：这一页是文件夹里的 index.md 时\n\
        # （kepu new --bundle 就这样写），照片放在它旁边写 \"cover.jpg\"；或放在 static/ 下写 \"/images/x.jpg\"\n\
        # cover = \"cover.jpg\"\n\
        # cover_alt = \"照片里是什么：写给看不见照片的读者\"  # 有 cover 就必填\n";
    let table = if t == PageType::Overview { table } else { format!("{table}{cover}") };
    format!(
        "+++\ntitle = \"{name}\"\ndescription = \"{}\"\n# 资料来源：事实出自哪些文件\nsources = [\"{}\"]\n# 草稿不会发布；写好后删除这一行\ndraft = true\n\n{table}+++\n\n## 简介\n\n{}\n",
        placeholder::description(name),
        placeholder::SOURCE,
        placeholder::body(name),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_page_uses_pinyin_file_name_and_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let p = new_page(dir.path(), "venue", "郑州科技馆", false).unwrap();
        assert!(p.ends_with("content/venues/zheng-zhou-ke-ji-guan.md"), "{}", p.display());
        assert!(matches!(new_page(dir.path(), "venue", "郑州科技馆", false), Err(ScaffoldError::Exists(_))));
        assert!(matches!(new_page(dir.path(), "museum", "x", false), Err(ScaffoldError::UnknownType(_))));
        // Place names are read as places: 长垣 is chang-yuan, 浚县 xun-xian.
        let p = new_page(dir.path(), "venue", "长垣市科技馆", false).unwrap();
        assert!(p.ends_with("content/venues/chang-yuan-shi-ke-ji-guan.md"), "{}", p.display());
        let p = new_page(dir.path(), "base", "浚县科普教育基地", false).unwrap();
        assert!(p.ends_with("content/bases/xun-xian-ke-pu-jiao-yu-ji-di.md"), "{}", p.display());
    }

    #[test]
    fn a_bundle_is_a_folder_and_either_form_of_a_page_blocks_the_other() {
        let dir = tempfile::tempdir().unwrap();
        let p = new_page(dir.path(), "venue", "郑州科技馆", true).unwrap();
        assert!(p.ends_with("content/venues/zheng-zhou-ke-ji-guan/index.md"), "{}", p.display());
        assert!(std::fs::read_to_string(&p).unwrap().contains("cover = \"cover.jpg\""));
        assert!(matches!(new_page(dir.path(), "venue", "郑州科技馆", false), Err(ScaffoldError::Exists(_))));
        new_page(dir.path(), "base", "浚县科普教育基地", false).unwrap();
        assert!(matches!(new_page(dir.path(), "base", "浚县科普教育基地", true), Err(ScaffoldError::Exists(_))));
    }

    #[test]
    fn a_city_page_is_for_the_city_it_is_named_after() {
        let dir = tempfile::tempdir().unwrap();
        let p = new_page(dir.path(), "city", "新乡市", false).unwrap();
        assert!(p.ends_with("content/cities/xin-xiang.md"), "{}", p.display());
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains("title = \"新乡市\"") && text.contains("name = \"新乡\"") && text.contains("kind = \"省辖市\""), "{text}");
        assert!(matches!(new_page(dir.path(), "city", "新乡", false), Err(ScaffoldError::Exists(_))), "one page per city");
        let jiyuan = std::fs::read_to_string(new_page(dir.path(), "city", "济源", false).unwrap()).unwrap();
        assert!(jiyuan.contains("title = \"济源示范区\"") && jiyuan.contains("kind = \"示范区\""), "{jiyuan}");
        assert!(matches!(new_page(dir.path(), "city", "北京", false), Err(ScaffoldError::NotACity(..))));
    }

    /// The model's verdict on a site folder: the error fields by file name, or none.
    fn errors(site: &Path, include_drafts: bool) -> Vec<(String, String)> {
        let config = crate::config::Config::load(site).unwrap();
        let docs = crate::load::load_content(site).unwrap();
        let options = crate::model::ModelOptions { include_drafts };
        match crate::model::build(config, docs, &options) {
            Ok(_) => Vec::new(),
            Err(d) => d
                .iter()
                .map(|d| {
                    let file = d.file.as_ref().and_then(|f| f.file_name()).unwrap().to_string_lossy().into_owned();
                    (file, d.field.clone().unwrap_or_default())
                })
                .collect(),
        }
    }

    fn edit(path: &Path, f: impl Fn(&str) -> String) {
        let text = std::fs::read_to_string(path).unwrap();
        std::fs::write(path, f(&text)).unwrap();
    }

    #[test]
    fn a_skeleton_previews_as_a_draft_is_not_published_as_is_and_its_examples_pass_once_uncommented() {
        let dir = tempfile::tempdir().unwrap();
        let site = dir.path().join("site");
        init(&site, "测试").unwrap();
        let pages: Vec<PathBuf> = [("venue", "示例馆"), ("base", "示例基地"), ("expert", "示例批次"), ("campaign", "示例活动"), ("city", "新乡")]
            .iter()
            .map(|(kind, name)| new_page(&site, kind, name, false).unwrap())
            .collect();
        assert_eq!(errors(&site, true), [], "a fresh skeleton previews with --drafts");

        for p in &pages {
            edit(p, |t| t.replace("draft = true\n", ""));
        }
        let mut found = errors(&site, false);
        found.sort();
        let mut wanted = Vec::new();
        for (file, choices) in [
            ("shi-li-guan.md", &["venue.kind"][..]),
            ("shi-li-ji-di.md", &["base.category"]),
            ("shi-li-pi-ci.md", &["expert.kind", "expert.scope"]),
            ("shi-li-huo-dong.md", &["campaign.kind"]),
            ("xin-xiang.md", &[]),
        ] {
            for field in ["description", "sources", "body"].iter().chain(choices) {
                wanted.push((file.to_string(), field.to_string()));
            }
        }
        wanted.sort();
        assert_eq!(found, wanted, "every placeholder left on a published page is an error naming its field");

        // Filled in, with every commented example uncommented as it stands.
        for p in &pages {
            edit(p, |t| {
                t.lines()
                    .filter(|l| !l.starts_with("description = ") && !l.starts_with("（在这里介绍"))
                    .map(|l| {
                        let l = l.replace(placeholder::SOURCE, "000_34df85477a50c534.txt").replace(placeholder::EXAMPLE, "");
                        match l.strip_prefix("# ") {
                            Some(example) if example.contains(" = ") => example.to_string(),
                            _ => l,
                        }
                    })
                    .map(|l| l + "\n")
                    .collect()
            });
        }
        assert_eq!(errors(&site, false), [], "the examples in the comments pass the checks");
    }
}
