//! The portal's own content types: venues, bases, experts, campaigns, cities and overview
//! pages. Their front-matter tables are parsed strictly (`deny_unknown_fields`, enums with
//! their Chinese values) and then checked for what serde cannot see: city names, positive
//! numbers, date order and cross references.

use serde::{Deserialize, Serialize};

use super::date::Date;

/// The 18 places the portal covers: 17 省辖市 and 济源示范区 (short name, full name).
pub const CITIES: [(&str, &str); 18] = [
    ("郑州", "郑州市"),
    ("开封", "开封市"),
    ("洛阳", "洛阳市"),
    ("平顶山", "平顶山市"),
    ("安阳", "安阳市"),
    ("鹤壁", "鹤壁市"),
    ("新乡", "新乡市"),
    ("焦作", "焦作市"),
    ("濮阳", "濮阳市"),
    ("许昌", "许昌市"),
    ("漯河", "漯河市"),
    ("三门峡", "三门峡市"),
    ("南阳", "南阳市"),
    ("商丘", "商丘市"),
    ("信阳", "信阳市"),
    ("周口", "周口市"),
    ("驻马店", "驻马店市"),
    ("济源", "济源示范区"),
];

/// Is `name` one of the 18 short city names?
pub fn is_city(name: &str) -> bool {
    CITIES.iter().any(|(short, _)| *short == name)
}

/// The content types a section can declare with `page_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PageType {
    Venue,
    Base,
    Expert,
    Campaign,
    City,
    Overview,
}

impl PageType {
    pub const ALL: [PageType; 6] =
        [PageType::Venue, PageType::Base, PageType::Expert, PageType::Campaign, PageType::City, PageType::Overview];

    pub fn key(self) -> &'static str {
        match self {
            PageType::Venue => "venue",
            PageType::Base => "base",
            PageType::Expert => "expert",
            PageType::Campaign => "campaign",
            PageType::City => "city",
            PageType::Overview => "overview",
        }
    }

    /// Chinese label for headings and filter chips.
    pub fn label(self) -> &'static str {
        match self {
            PageType::Venue => "场馆",
            PageType::Base => "科普基地",
            PageType::Expert => "科普专家",
            PageType::Campaign => "活动",
            PageType::City => "城市",
            PageType::Overview => "总览",
        }
    }

    pub fn parse(s: &str) -> Option<PageType> {
        PageType::ALL.into_iter().find(|t| t.key() == s)
    }
}

macro_rules! chinese_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name { $(#[serde(rename = $text)] $variant),+ }
        impl $name {
            /// The value as editors write it.
            pub fn as_str(self) -> &'static str { match self { $($name::$variant => $text),+ } }
            /// Every allowed value, for error messages.
            pub const ALLOWED: &'static [&'static str] = &[$($text),+];
        }
    };
}

chinese_enum!(
    /// What kind of science venue a page describes.
    VenueKind { Provincial = "省级", City = "市级", County = "县级", Mobile = "流动科技馆",
    RuralSchool = "农村中学科技馆", Caravan = "科普大篷车", Digital = "数字科技馆" });
chinese_enum!(
    /// Whether a venue is open yet.
    VenueStatus { Open = "已开放", Building = "在建", Planned = "筹建", Renovating = "改扩建" });
chinese_enum!(
    /// Level at which a base was recognised.
    BaseLevel { National = "国家级", Provincial = "省级", City = "市级" });
chinese_enum!(
    /// What sort of base.
    BaseCategory { Education = "科普教育基地", ScientistSpirit = "科学家精神教育基地",
    ScienceCourtyard = "科技小院", StudyTour = "科普研学基地", DemoCounty = "科普示范县",
    Network = "基地联盟",
    // A place that does science popularisation but holds no title of its own (a member of a
    // city's alliance, a base a city set up): its badge must not claim a designation.
    Site = "科普阵地" });
chinese_enum!(
    /// A batch of experts, a studio, or one person.
    ExpertKind { Batch = "批次", Studio = "工作室", Person = "个人" });
chinese_enum!(
    /// Who named the experts.
    ExpertScope { Provincial = "省级", City = "市级" });
chinese_enum!(
    /// What sort of campaign.
    CampaignKind { Festival = "节日", Contest = "竞赛", Tour = "巡展巡讲", Volunteer = "志愿服务",
    Training = "培训", Award = "评选", Lecture = "讲坛", Other = "其他" });
chinese_enum!(
    /// How often a campaign happens.
    Recurrence { Yearly = "每年", Once = "一次性", Ongoing = "常态化" });
chinese_enum!(
    /// A prefecture-level city or the demonstration zone.
    CityKind { Prefecture = "省辖市", DemoZone = "示范区" });
chinese_enum!(
    /// How a chart is drawn.
    ChartKind { Bar = "bar", Line = "line" });

/// `[venue]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Venue {
    pub kind: VenueKind,
    /// Official short names the seeds use for this page (`省科技馆`): search treats them as
    /// names of the page, exactly like its title. Only names a seed uses, never invented.
    #[serde(default)]
    pub aliases: Vec<String>,
    pub city: Option<String>,
    pub county: Option<String>,
    pub status: Option<VenueStatus>,
    pub address: Option<String>,
    pub opening_days: Option<String>,
    pub opening_hours: Option<String>,
    pub booking: Option<String>,
    pub daily_tickets: Option<u64>,
    /// 建筑面积: the whole building.
    pub building_area_m2: Option<f64>,
    /// 展览面积 / 布展面积: the floor given to exhibitions.
    pub exhibition_area_m2: Option<f64>,
    /// 开放面积: the floor open to visitors (halls, cinemas, restaurant …), which reports give
    /// for a venue opening in stages; neither of the two above.
    pub open_area_m2: Option<f64>,
    pub exhibits: Option<u64>,
    #[serde(default)]
    pub halls: Vec<String>,
    pub annual_visitors: Option<u64>,
    pub visitors_year: Option<u16>,
    pub free_open: Option<bool>,
    pub opened: Option<u16>,
    #[serde(default)]
    pub honours: Vec<String>,
    pub count: Option<u64>,
    /// A photo for cards, the page header and link previews: a file of the page's bundle
    /// (`hall.jpg`) or of `static/` (`/images/x.jpg`).
    pub cover: Option<String>,
    /// What the cover shows, for visitors who cannot see it (required with `cover`).
    pub cover_alt: Option<String>,
}

/// `[base]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Base {
    pub category: BaseCategory,
    /// Official short names the seeds use for this page (`省科技馆`): search treats them as
    /// names of the page, exactly like its title. Only names a seed uses, never invented.
    #[serde(default)]
    pub aliases: Vec<String>,
    pub level: Option<BaseLevel>,
    pub city: Option<String>,
    pub county: Option<String>,
    pub operator: Option<String>,
    pub recognised_by: Option<String>,
    pub recognised_year: Option<u16>,
    #[serde(default)]
    pub offers: Vec<String>,
    pub address: Option<String>,
    pub open_days: Option<String>,
    pub count: Option<u64>,
    /// A photo for cards, the page header and link previews: a file of the page's bundle
    /// (`hall.jpg`) or of `static/` (`/images/x.jpg`).
    pub cover: Option<String>,
    /// What the cover shows, for visitors who cannot see it (required with `cover`).
    pub cover_alt: Option<String>,
}

/// `[expert]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expert {
    pub kind: ExpertKind,
    /// Official short names the seeds use for this page (`省科技馆`): search treats them as
    /// names of the page, exactly like its title. Only names a seed uses, never invented.
    #[serde(default)]
    pub aliases: Vec<String>,
    pub scope: ExpertScope,
    pub city: Option<String>,
    pub batch: Option<String>,
    pub year: Option<u16>,
    pub count: Option<u64>,
    #[serde(default)]
    pub fields: Vec<String>,
    pub affiliation: Option<String>,
    #[serde(default)]
    pub activities: Vec<String>,
    /// A photo for cards, the page header and link previews: a file of the page's bundle
    /// (`hall.jpg`) or of `static/` (`/images/x.jpg`).
    pub cover: Option<String>,
    /// What the cover shows, for visitors who cannot see it (required with `cover`).
    pub cover_alt: Option<String>,
}

/// `[campaign]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Campaign {
    pub kind: CampaignKind,
    /// Official short names the seeds use for this page (`省科技馆`): search treats them as
    /// names of the page, exactly like its title. Only names a seed uses, never invented.
    #[serde(default)]
    pub aliases: Vec<String>,
    pub start: Option<Date>,
    pub end: Option<Date>,
    /// How often it runs: left out when no source says (shown as nothing).
    pub recurrence: Option<Recurrence>,
    /// The fixed yearly date of a national day or month, with who fixed it. Only these get a
    /// repeating event in the calendar feed.
    pub annual: Option<Annual>,
    pub year: Option<u16>,
    #[serde(default)]
    pub organisers: Vec<String>,
    #[serde(default)]
    pub cities: Vec<String>,
    #[serde(default)]
    pub venues: Vec<String>,
    #[serde(default)]
    pub bases: Vec<String>,
    #[serde(default)]
    pub experts: Vec<String>,
    pub activities: Option<u64>,
    pub participants: Option<u64>,
    /// A photo for cards, the page header and link previews: a file of the page's bundle
    /// (`hall.jpg`) or of `static/` (`/images/x.jpg`).
    pub cover: Option<String>,
    /// What the cover shows, for visitors who cannot see it (required with `cover`).
    pub cover_alt: Option<String>,
}

/// `[campaign.annual]`: when a yearly campaign falls, as fixed by law or by its national
/// organisers (a month, or one day of it), and `basis`, the citation that says so — the
/// calendar feed repeats it every year, so it must be a rule, never a guess from past dates.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Annual {
    pub month: u8,
    pub day: Option<u8>,
    pub basis: String,
}

impl Annual {
    /// The first day and the day after the last, in `year` (`None` for a day that year lacks).
    pub fn span(&self, year: i32) -> Option<(chrono::NaiveDate, chrono::NaiveDate)> {
        let first = chrono::NaiveDate::from_ymd_opt(year, self.month.into(), self.day.unwrap_or(1).into())?;
        let after = match self.day {
            Some(_) => first.succ_opt()?,
            None if self.month == 12 => chrono::NaiveDate::from_ymd_opt(year + 1, 1, 1)?,
            None => chrono::NaiveDate::from_ymd_opt(year, u32::from(self.month) + 1, 1)?,
        };
        Some((first, after))
    }

    /// `每年5月30日`, `每年9月`.
    pub fn label(&self) -> String {
        match self.day {
            Some(d) => format!("每年{}月{}日", self.month, d),
            None => format!("每年{}月", self.month),
        }
    }

    /// What is wrong with the date, if anything, and in which field: a month outside 1–12, a
    /// day the month does not have every year (29 February would vanish three years in
    /// four), an empty basis.
    pub fn problem(&self) -> Option<(&'static str, String)> {
        if !(1..=12).contains(&self.month) {
            return Some(("month", format!("month {} is not a month (1–12)", self.month)));
        }
        if let Some(d) = self.day {
            // 2023 is not a leap year: a day it has, every year has.
            if d == 0 || chrono::NaiveDate::from_ymd_opt(2023, self.month.into(), d.into()).is_none() {
                return Some(("day", format!("{}月 has no day {d} every year", self.month)));
            }
        }
        if self.basis.trim().is_empty() {
            return Some(("basis", "basis is empty: say who fixed the date (a law, the national organisers, a source)".into()));
        }
        None
    }
}

/// `[city]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct City {
    pub name: String,
    pub kind: CityKind,
    /// A photo for cards, the page header and link previews: a file of the page's bundle
    /// (`hall.jpg`) or of `static/` (`/images/x.jpg`).
    pub cover: Option<String>,
    /// What the cover shows, for visitors who cannot see it (required with `cover`).
    pub cover_alt: Option<String>,
}

/// `[overview]`
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Overview {
    #[serde(default)]
    pub charts: Vec<Chart>,
}

/// A chart drawn to SVG at build time.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chart {
    pub title: String,
    pub kind: ChartKind,
    #[serde(default)]
    pub unit: String,
    pub target: Option<f64>,
    pub target_label: Option<String>,
    pub points: Vec<ChartPoint>,
}

/// One labelled value of a chart.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChartPoint {
    pub label: String,
    pub value: f64,
}

/// A figure a page reports (`[[figures]]`), shown in a table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Figure {
    pub label: String,
    pub value: f64,
    pub unit: Option<String>,
    pub year: Option<u16>,
    pub note: Option<String>,
}

/// The typed part of a page, exactly one per typed page.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", content = "data", rename_all = "lowercase")]
pub enum Typed {
    Venue(Venue),
    Base(Base),
    Expert(Expert),
    Campaign(Campaign),
    City(City),
    Overview(Overview),
}

/// A typed page's cover as written in its table.
#[derive(Debug, Clone, Copy)]
pub struct Cover<'a> {
    pub src: &'a str,
    pub alt: Option<&'a str>,
}

impl Typed {
    /// The cover photo, for the types that have one (overviews do not).
    pub fn cover(&self) -> Option<Cover<'_>> {
        let (src, alt) = self.cover_fields()?;
        Some(Cover { src: src.as_deref()?, alt: alt.as_deref() })
    }

    /// Whether `cover_alt` is set (with or without a cover).
    pub fn has_cover_alt(&self) -> bool {
        self.cover_fields().is_some_and(|(_, alt)| alt.is_some())
    }

    fn cover_fields(&self) -> Option<(&Option<String>, &Option<String>)> {
        match self {
            Typed::Venue(x) => Some((&x.cover, &x.cover_alt)),
            Typed::Base(x) => Some((&x.cover, &x.cover_alt)),
            Typed::Expert(x) => Some((&x.cover, &x.cover_alt)),
            Typed::Campaign(x) => Some((&x.cover, &x.cover_alt)),
            Typed::City(x) => Some((&x.cover, &x.cover_alt)),
            Typed::Overview(_) => None,
        }
    }

    pub fn page_type(&self) -> PageType {
        match self {
            Typed::Venue(_) => PageType::Venue,
            Typed::Base(_) => PageType::Base,
            Typed::Expert(_) => PageType::Expert,
            Typed::Campaign(_) => PageType::Campaign,
            Typed::City(_) => PageType::City,
            Typed::Overview(_) => PageType::Overview,
        }
    }

    /// The cities this page belongs to (for city pages: itself).
    pub fn cities(&self) -> Vec<&str> {
        match self {
            Typed::Venue(v) => v.city.as_deref().into_iter().collect(),
            Typed::Base(b) => b.city.as_deref().into_iter().collect(),
            Typed::Expert(e) => e.city.as_deref().into_iter().collect(),
            Typed::Campaign(c) => c.cities.iter().map(String::as_str).collect(),
            Typed::City(c) => vec![c.name.as_str()],
            Typed::Overview(_) => vec![],
        }
    }

    /// Facets a visitor filters by (search chips, listings): key → value.
    pub fn facets(&self) -> Vec<(&'static str, String)> {
        let mut f = Vec::new();
        match self {
            Typed::Venue(v) => {
                f.push(("kind", v.kind.as_str().to_string()));
                if let Some(s) = v.status {
                    f.push(("status", s.as_str().to_string()));
                }
            }
            Typed::Base(b) => {
                f.push(("category", b.category.as_str().to_string()));
                if let Some(l) = b.level {
                    f.push(("level", l.as_str().to_string()));
                }
            }
            Typed::Expert(e) => {
                f.push(("kind", e.kind.as_str().to_string()));
                f.push(("level", e.scope.as_str().to_string()));
            }
            Typed::Campaign(c) => f.push(("kind", c.kind.as_str().to_string())),
            Typed::City(c) => f.push(("kind", c.kind.as_str().to_string())),
            Typed::Overview(_) => {}
        }
        for c in self.cities() {
            f.push(("city", c.to_string()));
        }
        f
    }

    /// The page's official short names (`aliases`); city and overview pages have none.
    pub fn aliases(&self) -> &[String] {
        match self {
            Typed::Venue(v) => &v.aliases,
            Typed::Base(b) => &b.aliases,
            Typed::Expert(e) => &e.aliases,
            Typed::Campaign(c) => &c.aliases,
            Typed::City(_) | Typed::Overview(_) => &[],
        }
    }

    /// Short searchable fields beyond the title (names, places, organisers).
    pub fn keywords(&self) -> Vec<String> {
        let mut k: Vec<String> = self.cities().into_iter().map(str::to_string).collect();
        match self {
            Typed::Venue(v) => {
                k.extend(v.county.clone());
                k.extend(v.halls.iter().cloned());
                k.push(v.kind.as_str().into());
                // Visitors search for these facts by their name (预约, 开放时间), and the few
                // venues that state them should rank above pages that only mention the words.
                if v.opening_days.is_some() || v.opening_hours.is_some() {
                    k.push("开放时间".into());
                }
                if v.booking.is_some() || v.daily_tickets.is_some() {
                    k.push("预约和门票".into());
                }
                k.extend([&v.opening_days, &v.opening_hours, &v.booking, &v.address].into_iter().flatten().cloned());
            }
            Typed::Base(b) => {
                k.extend(b.county.clone());
                k.extend(b.operator.clone());
                k.push(b.category.as_str().into());
                k.extend(b.level.map(|l| l.as_str().to_string()));
            }
            Typed::Expert(e) => {
                k.extend(e.batch.clone());
                k.extend(e.fields.iter().cloned());
                k.extend(e.affiliation.clone());
            }
            Typed::Campaign(c) => {
                k.extend(c.organisers.iter().cloned());
                k.push(c.kind.as_str().into());
            }
            Typed::City(c) => k.push(city_full_name(&c.name).to_string()),
            Typed::Overview(_) => {}
        }
        k
    }
}

/// `焦作` → `焦作市`, `济源` → `济源示范区`.
pub fn city_full_name(short: &str) -> &str {
    CITIES.iter().find(|(s, _)| *s == short).map_or(short, |(_, full)| full)
}

/// Where a typed value (`key` as in [`Typed::facets`]) comes in lists a visitor reads: cities
/// in the province's order, levels from national down, kinds and categories in the order
/// the schema lists them. `None` for a value outside those lists.
pub fn display_order(key: &str, value: &str) -> Option<usize> {
    const LEVELS: [&str; 4] = ["国家级", "省级", "市级", "县级"];
    let position = |lists: &[&[&str]]| lists.iter().flat_map(|l| l.iter()).position(|v| *v == value);
    match key {
        "city" => CITIES.iter().position(|(short, _)| *short == value),
        "level" => LEVELS.iter().position(|l| *l == value),
        "kind" => position(&[VenueKind::ALLOWED, ExpertKind::ALLOWED, CampaignKind::ALLOWED, CityKind::ALLOWED]),
        "category" => position(&[BaseCategory::ALLOWED]),
        "status" => position(&[VenueStatus::ALLOWED]),
        _ => None,
    }
}
