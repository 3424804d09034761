//! `kepu init` and `kepu new`: files an editor starts from. Every skeleton builds as is.

use std::path::{Path, PathBuf};

use crate::model::portal::PageType;
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
        (".gitignore", "/public/\n".to_string()),
        ("content/_index.md", format!("+++\ntitle = \"{title}\"\nsort_by = \"weight\"\n+++\n\n欢迎访问{title}。\n")),
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
/// with a pinyin file name. Returns the path.
pub fn new_page(root: &Path, kind: &str, name: &str) -> Result<PathBuf, ScaffoldError> {
    let t = PageType::parse(kind).ok_or_else(|| ScaffoldError::UnknownType(kind.to_string()))?;
    let name = name.trim();
    let slug = slugify(name);
    if name.is_empty() || slug.is_empty() {
        return Err(ScaffoldError::EmptyName);
    }
    let section = section_for(root, t);
    let path = root.join("content").join(&section).join(format!("{slug}.md"));
    if path.exists() {
        return Err(ScaffoldError::Exists(path));
    }
    write(&path, &skeleton(t, name))?;
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

fn skeleton(t: PageType, name: &str) -> String {
    let table = match t {
        PageType::Venue => "[venue]\n# 省级 市级 县级 流动科技馆 农村中学科技馆 科普大篷车 数字科技馆\nkind = \"流动科技馆\"\n# city = \"郑州\"            # 18 个城市简称之一；省级/市级/县级场馆必填\n# status = \"已开放\"         # 已开放 在建 筹建 改扩建\n# address = \"\"\n# opening_days = \"\"\n# opening_hours = \"\"\n# booking = \"\"\n# exhibition_area_m2 = 0\n# halls = []\n# annual_visitors = 0\n# visitors_year = 2024\n",
        PageType::Base => "[base]\n# 科普教育基地 科学家精神教育基地 科技小院 科普研学基地 科普示范县 基地联盟\ncategory = \"科普教育基地\"\n# level = \"省级\"            # 国家级 省级 市级\n# city = \"郑州\"\n# operator = \"\"\n# offers = []\n",
        PageType::Expert => "[expert]\nkind = \"批次\"                # 批次 工作室 个人（个人须有来源）\nscope = \"省级\"               # 省级 市级（市级须填 city）\n# city = \"郑州\"\n# batch = \"第一批\"\n# year = 2025\n# count = 0\n",
        PageType::Campaign => "[campaign]\n# 节日 竞赛 巡展巡讲 志愿服务 培训 评选 讲坛 其他\nkind = \"其他\"\n# start = 2025-09-01\n# end = 2025-09-30\n# recurrence = \"每年\"         # 每年 一次性 常态化\n# organisers = []\n# cities = []\n# venues = []                  # 场馆页面的标题\n# activities = 0\n# participants = 0\n",
        PageType::City => "[city]\nname = \"郑州\"                # 18 个城市简称之一\nkind = \"省辖市\"              # 省辖市 示范区\n",
        PageType::Overview => "[overview]\n",
    };
    format!(
        "+++\ntitle = \"{name}\"\ndescription = \"（一两句话介绍{name}）\"\n# 资料来源：事实出自哪些文件\nsources = [\"（填写资料来源）\"]\n# 草稿不会发布；写好后删除这一行\ndraft = true\n\n{table}+++\n\n## 简介\n\n（在这里介绍{name}。）\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_page_uses_pinyin_file_name_and_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let p = new_page(dir.path(), "venue", "郑州科技馆").unwrap();
        assert!(p.ends_with("content/venues/zheng-zhou-ke-ji-guan.md"), "{}", p.display());
        assert!(matches!(new_page(dir.path(), "venue", "郑州科技馆"), Err(ScaffoldError::Exists(_))));
        assert!(matches!(new_page(dir.path(), "museum", "x"), Err(ScaffoldError::UnknownType(_))));
    }
}
