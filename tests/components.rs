//! Components in content: each built-in component of the default theme, `{% raw %}` and code,
//! a site's own component, and every kind of mistake an editor can make with one, reported at
//! its Markdown line and column, all at once, with `public/` left alone.

mod common;

use common::*;
use scraper::{Html, Selector};

const CONFIG_EXTRA: &str = "\n[extra.components]\nembed_hosts = [\"player.bilibili.com\"]\n";

/// The basic fixture with the embed allowlist and a page using `body` (front matter included).
fn site_with(page: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let (t, site) = fixture("basic");
    let config = read(&site, "config.toml");
    write(&site, "config.toml", &format!("{config}{CONFIG_EXTRA}"));
    write(&site, "content/notes/components.md", &format!("+++\ntitle = \"组件\"\ndate = 2024-02-01\n+++\n\n{page}"));
    (t, site)
}

fn prose(site: &std::path::Path, page: &str) -> String {
    let html = read(site, page);
    let doc = Html::parse_document(&html);
    let sel = Selector::parse("div.prose").unwrap();
    doc.select(&sel).next().map(|e| e.inner_html()).unwrap_or_default()
}

const EVERY_BUILT_IN: &str = r#"第一段。

{% <notice kind="注意" title="开放时间"> %}
周一闭馆，**节假日**照常开放。见[郑州科技馆](@/venues/郑州科技馆.md)。
{% </notice> %}

{{ <figure src="photo.png" alt="展厅里的机器人" caption="人工智能展厅" /> }}

{{ <video src="/media/demo.mp4" title="走进科技馆" poster="/media/demo.jpg" captions="/media/demo.vtt" /> }}

{{ <embed src="https://player.bilibili.com/player.html?bvid=BV1xx" title="科普视频" link="https://www.bilibili.com/video/BV1xx" /> }}

{{ <card title="郑州科技馆" /> }}

去{{ <ref title="郑州科技馆" text="科技馆" /> }}看看。

{{ <chart title="各市科技馆" unit="个" data={[{"label": "郑州", "value": 12}, {"label": "洛阳", "value": 7}]} /> }}

{% <notice kind="温馨提示"> %}
带好身份证。
{% </notice> %}
"#;

#[test]
fn every_built_in_component_renders() {
    let (_t, site) = fixture("basic");
    let config = read(&site, "config.toml");
    write(&site, "config.toml", &format!("{config}{CONFIG_EXTRA}"));
    // In a bundle, so figure's photo.png is the page's own.
    let bundle = read(&site, "content/venues/bundle-guan/index.md");
    write(&site, "content/venues/bundle-guan/index.md", &format!("{}\n{EVERY_BUILT_IN}", bundle.trim_end()));
    for media in ["demo.mp4", "demo.jpg", "demo.vtt"] {
        write(&site, &format!("static/media/{media}"), "x");
    }
    build_ok(&site, &[]);
    let html = prose(&site, "public/venues/bundle-guan/index.html");
    insta::assert_snapshot!("every_built_in", html);
    let html = read(&site, "public/venues/bundle-guan/index.html");
    // Spot checks that say why the snapshot looks as it does.
    assert!(html.contains(r#"<div class="notice notice-warning" role="note">"#), "{html}");
    assert!(html.contains("<strong>节假日</strong>"), "a notice's body is Markdown: {html}");
    assert!(html.contains(r#"href="/venues/zheng-zhou-ke-ji-guan/""#), "@/ links in a body resolve: {html}");
    // figure goes through the image pipeline: a <picture> of processed files that exist, with
    // the file's own size, and no plain copy of the original in its place.
    assert!(html.contains(r#"<figure class="figure photo"><a class="photo-full" href="/processed_images/photo-48x32."#), "{html}");
    assert!(html.contains(r#"<source type="image/webp" srcset="/processed_images/photo-48x32."#), "{html}");
    assert!(html.contains(r#"width="48" height="32" alt="展厅里的机器人""#) && html.contains("<figcaption>人工智能展厅</figcaption>"), "{html}");
    let processed: Vec<String> = std::fs::read_dir(site.join("public/processed_images")).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(processed.len(), 2, "one WebP and one PNG: {processed:?}");
    for name in &processed {
        assert!(html.contains(&format!("/processed_images/{name}")), "{name} is used: {html}");
    }
    assert!(html.contains(r#"preload="none""#) && html.contains(r#"poster="/media/demo.jpg""#) && html.contains("<track kind=\"captions\""), "{html}");
    assert!(html.contains(r#"loading="lazy""#) && html.contains("sandbox=") && html.contains("referrerpolicy=") && html.contains(r#"href="https://www.bilibili.com/video/BV1xx""#), "{html}");
    assert!(html.contains(r#"<a class="card-link" href="/venues/zheng-zhou-ke-ji-guan/">郑州科技馆</a>"#), "{html}");
    assert!(html.contains(r#"去<a href="/venues/zheng-zhou-ke-ji-guan/">科技馆</a>看看"#), "ref is inline: {html}");
    assert!(html.contains("<svg") && html.contains("<th scope=\"row\">郑州</th>"), "chart and its table: {html}");
    assert!(!html.contains("<p><div"), "a block component is not wrapped in a paragraph: {html}");
}

#[test]
fn raw_and_code_are_never_templated() {
    let (_t, site) = site_with(
        "写法：{% raw %}{{ <notice /> }}{% endraw %}。\n\n`{{ <video src=\"x\" /> }}`\n\n```\n{% <notice> %}代码{% </notice> %}\n```\n\n其他 {{ 花括号 }} 不是组件。\n",
    );
    build_ok(&site, &[]);
    let html = prose(&site, "public/notes/components/index.html");
    assert!(html.contains("写法：{{ &lt;notice /&gt; }}。"), "{html}");
    assert!(html.contains("<code>{{ &lt;video src=\"x\" /&gt; }}</code>"), "{html}");
    assert!(html.contains("{% &lt;notice&gt; %}代码{% &lt;/notice&gt; %}"), "{html}");
    assert!(html.contains("其他 {{ 花括号 }} 不是组件。"), "{html}");
}

#[test]
fn a_sites_component_wins_over_the_themes() {
    let (_t, site) = site_with("{% <notice kind=\"注意\"> %}\n小心台阶。\n{% </notice> %}\n");
    write(
        &site,
        "templates/my-components.html",
        "{% component notice(kind: string = \"提示\") %}<p class=\"my-notice\">{{ kind }}：{{ body | striptags | trim }}</p>{% endcomponent notice %}",
    );
    build_ok(&site, &[]);
    let html = prose(&site, "public/notes/components/index.html");
    assert!(html.contains(r#"<p class="my-notice">注意：小心台阶。</p>"#), "{html}");
}

#[test]
fn a_notices_words_are_in_the_search_index_not_its_tags() {
    let (_t, site) = site_with("{% <notice kind=\"注意\"> %}\n馆内禁止饮食。\n{% </notice> %}\n");
    let config = read(&site, "config.toml");
    write(&site, "config.toml", &config.replace("\n[extra.components]", "\n[search]\nenabled = true\n\n[extra.components]"));
    build_ok(&site, &[]);
    let text = String::from_utf8_lossy(&std::fs::read(site.join("public/atom.xml")).unwrap()).to_string();
    assert!(text.contains("馆内禁止饮食。"), "the summary is the notice's words: {text}");
    assert!(!text.contains("notice kind"), "not its call: {text}");
}

#[test]
fn every_mistake_is_reported_at_its_line_all_at_once() {
    let (_t, site) = site_with("正文。\n");
    build_ok(&site, &[]);
    write(
        &site,
        "content/notes/components.md",
        "+++\ntitle = \"组件\"\ndate = 2024-02-01\n+++\n\n正文。\n\n{{ <vidoe src=\"a.mp4\" title=\"x\" /> }}\n\n{{ <video src=\"a.mp4\" /> }}\n\n{{ <figure src=\"a.png\" alt=\"图\" colour=\"red\" /> }}\n\n{{ <card title={3} /> }}\n",
    );
    write(&site, "content/notes/bad-kind.md", "+++\ntitle = \"错类型\"\n+++\n\n{% <notice kind=\"危险\"> %}\n内容\n{% </notice> %}\n");
    write(&site, "content/notes/unclosed.md", "+++\ntitle = \"未闭合\"\n+++\n\n{% <notice> %}\n没有结束标签。\n");
    write(&site, "content/notes/unknown-title.md", "+++\ntitle = \"错标题\"\n+++\n\n{{ <card title=\"郑州科技官\" /> }}\n");
    let before = tree(&site.join("public"));
    let err = build_err(&site);
    insta::assert_snapshot!("component_errors", err);
    assert!(err.contains("content/notes/components.md:8:4") && err.contains("unknown component `vidoe`") && err.contains("did you mean `video`"), "{err}");
    assert!(err.contains("content/notes/components.md:10:4") && err.contains("`video` needs the argument `title`"), "{err}");
    assert!(err.contains("content/notes/components.md:12:32") && err.contains("`figure` has no argument `colour`"), "{err}");
    assert!(err.contains("content/notes/components.md:14:10") && err.contains("`title` of `card` must be text in quotes"), "{err}");
    assert!(err.contains("content/notes/bad-kind.md:5:4") && err.contains("kind must be 提示, 注意 or 温馨提示"), "{err}");
    assert!(err.contains("components/notice.html"), "an error inside the component names its template too: {err}");
    assert!(err.contains("content/notes/unclosed.md:5:1") && err.contains("`{% <notice> %}` is not closed"), "{err}");
    assert!(err.contains("content/notes/unknown-title.md:5:4") && err.contains("no page titled “郑州科技官”") && err.contains("“郑州科技馆”"), "{err}");
    assert_eq!(tree(&site.join("public")), before, "public/ untouched");
}

#[test]
fn required_captions_and_the_embed_allowlist_are_enforced() {
    let (_t, site) = site_with("{{ <video src=\"/a.mp4\" title=\"无字幕\" /> }}\n\n{{ <embed src=\"https://evil.example/player\" title=\"别处\" /> }}\n");
    write(&site, "static/a.mp4", "x");
    let config = read(&site, "config.toml");
    write(&site, "config.toml", &config.replace("[extra.components]\n", "[extra.components]\nrequire_captions = true\n"));
    let err = build_err(&site);
    assert!(err.contains("has no captions="), "{err}");
    // One error per page (a render stops at its first): the embed is checked once the video is fixed.
    write(&site, "content/notes/components.md", "+++\ntitle = \"组件\"\n+++\n\n{{ <embed src=\"https://evil.example/player\" title=\"别处\" /> }}\n");
    let err = build_err(&site);
    assert!(err.contains("is not from a host config.toml allows; allowed: player.bilibili.com"), "{err}");
}

#[test]
fn a_video_without_captions_is_a_warning_at_its_markdown_line() {
    // Line 8 of the file: 4 lines of front matter, a blank line, a paragraph, a blank line.
    let (_t, site) = site_with("正文。\n\n{{ <video src=\"/a.mp4\" title=\"无字幕\" /> }}\n\n{{ <video src=\"/b.mp4\" title=\"有字幕\" captions=\"/b.vtt\" /> }}\n");
    for media in ["a.mp4", "b.mp4", "b.vtt"] {
        write(&site, &format!("static/{media}"), "x");
    }
    let r = build_ok(&site, &[]);
    assert!(r.stderr.contains("warning: `video` has no captions"), "{}", r.stderr);
    assert!(r.stderr.contains("content/notes/components.md:8:4"), "the warning names the Markdown file:line:col: {}", r.stderr);
    assert!(r.stderr.contains("require_captions = true"), "the hint says how to make it an error: {}", r.stderr);
    assert_eq!(r.stderr.matches("has no captions").count(), 1, "once, and not for the video with captions: {}", r.stderr);
    assert!(read(&site, "public/notes/components/index.html").contains("preload=\"none\""), "the page is built");
    // `kepu check` reports it too.
    let c = kepu(&site, &["check", "--root", site.to_str().unwrap()]);
    assert!(c.stderr.contains("content/notes/components.md:8:4") && c.stderr.contains("`video` has no captions"), "{}", c.stderr);
    // With captions everywhere, no warning.
    write(&site, "content/notes/components.md", "+++\ntitle = \"组件\"\n+++\n\n{{ <video src=\"/b.mp4\" title=\"有字幕\" captions=\"/b.vtt\" /> }}\n");
    let r = build_ok(&site, &[]);
    assert!(!r.stderr.contains("captions"), "{}", r.stderr);
    // With require_captions, the error alone (no warning besides it).
    write(&site, "content/notes/components.md", "+++\ntitle = \"组件\"\n+++\n\n{{ <video src=\"/a.mp4\" title=\"无字幕\" /> }}\n");
    let config = read(&site, "config.toml");
    write(&site, "config.toml", &config.replace("[extra.components]\n", "[extra.components]\nrequire_captions = true\n"));
    let err = build_err(&site);
    assert!(err.contains("has no captions=") && !err.contains("warning: `video` has no captions"), "{err}");
}

#[test]
fn a_quote_after_a_backslash_is_part_of_the_text() {
    // As in Tera: `\"` is a quote inside the text, not its end (nor is a `}}` inside it the call's end).
    let (_t, site) = site_with("{% <notice kind=\"注意\" title=\"他说\\\"别 }} 走\\\"\"> %}\n正文。\n{% </notice> %}\n\n{{ <ref title=\"郑州科技馆\" text='馆\\'s' /> }}\n");
    build_ok(&site, &[]);
    let html = prose(&site, "public/notes/components/index.html");
    assert!(html.contains("他说\"别 }} 走\"") || html.contains("他说&quot;别 }} 走&quot;"), "{html}");
    assert!(html.contains(">馆's</a>") || html.contains(">馆&#x27;s</a>") || html.contains(">馆&#39;s</a>"), "{html}");
    assert!(!html.contains("{{") && !html.contains("\\"), "{html}");
}

#[test]
fn text_that_looks_like_a_placeholder_stays_text() {
    // How a call's place was marked before its HTML was put in: content cannot make one.
    let (_t, site) = site_with("甲\u{E000}0\u{E001}乙\u{E000}1\u{E001}丙\n\n\u{E000}0\u{E001}\n\n{{ <ref title=\"郑州科技馆\" text=\"科技馆\" /> }}\n\n{% <notice> %}\n丁\u{E000}0\u{E001}\n{% </notice> %}\n");
    build_ok(&site, &[]);
    let html = prose(&site, "public/notes/components/index.html");
    assert!(html.contains("甲\u{E000}0\u{E001}乙\u{E000}1\u{E001}丙"), "{html}");
    assert!(html.contains("<p>\u{E000}0\u{E001}</p>"), "{html}");
    assert!(html.contains("丁\u{E000}0\u{E001}"), "inside a component's body too: {html}");
    assert_eq!(html.matches("科技馆</a>").count(), 1, "the call's HTML once, in its own place: {html}");
    assert_eq!(html.matches("role=\"note\"").count(), 1, "{html}");
}

#[test]
fn a_charts_words_are_never_taken_for_its_id() {
    let (_t, site) = site_with("{{ <chart title=\"chart-1 的数据\" data={[{\"label\": \"chart-1\", \"value\": 3}, {\"label\": \"乙\", \"value\": 2}]} /> }}\n");
    build_ok(&site, &[]);
    let html = prose(&site, "public/notes/components/index.html");
    let id = html.split("<figcaption id=\"").nth(1).and_then(|r| r.split("-caption\"").next()).unwrap().to_string();
    assert!(id.starts_with("chart-") && id != "chart-1", "{id}");
    assert!(html.contains(&format!("aria-labelledby=\"{id}-title {id}-desc\"")), "{html}");
    assert!(html.contains(&format!("<title id=\"{id}-title\">chart-1 的数据</title>")), "the title as written: {html}");
    assert!(html.contains(&format!("<desc id=\"{id}-desc\">chart-1：3；乙：2</desc>")), "{html}");
    assert!(html.contains(">chart-1</text>"), "the label as written: {html}");
}

/// Where `arg` is in `line` (1-based column, in characters).
fn column(line: &str, arg: &str) -> usize {
    line[..line.find(arg).unwrap()].chars().count() + 1
}

#[test]
fn a_missing_media_file_is_an_error_at_its_argument() {
    let (_t, site) = site_with("正文。\n");
    build_ok(&site, &[]);
    let before = tree(&site.join("public"));
    write(&site, "static/media/ok.vtt", "WEBVTT\n");
    let video = "{{ <video src=\"clip.webm\" poster=\"/media/gone.jpg\" captions=\"clip.vtt\" title=\"片\" /> }}";
    let figure = "{{ <figure src=\"diagram.svg\" alt=\"示意图\" /> }}";
    // Remote files are not checked; a file that is there is fine.
    let fine = "{{ <video src=\"https://example.org/a.mp4\" captions=\"/media/ok.vtt?v=2\" poster=\"%E5%B0%81%E9%9D%A2.svg\" title=\"外站\" /> }}\n\n{{ <figure src=\"https://example.org/x.svg\" alt=\"外站的图\" /> }}";
    write(&site, "content/notes/clip/index.md", &format!("+++\ntitle = \"视频\"\n+++\n\n{video}\n\n{figure}\n\n{fine}\n"));
    write(&site, "content/notes/clip/clip.webm", "x");
    write(&site, "content/notes/clip/封面.svg", "<svg xmlns=\"http://www.w3.org/2000/svg\"/>");
    write(&site, "content/notes/solo.md", "+++\ntitle = \"单页\"\n+++\n\n{{ <video src=\"solo.mp4\" title=\"单页视频\" captions=\"/media/ok.vtt\" /> }}\n");
    let err = build_err(&site);
    let at = |file: &str, line: usize, col: usize| format!("content/notes/{file}:{line}:{col}");
    assert!(err.contains(&at("clip/index.md", 5, column(video, "poster="))) && err.contains("`video` poster=\"/media/gone.jpg\": no such file in static/"), "{err}");
    assert!(err.contains("put the file at static/media/gone.jpg"), "{err}");
    assert!(err.contains(&at("clip/index.md", 5, column(video, "captions="))) && err.contains("`video` captions=\"clip.vtt\": no such file beside the page"), "{err}");
    assert!(err.contains("put `clip.vtt` in content/notes/clip/"), "the hint names the folder: {err}");
    assert!(!err.contains("`video` src=\"clip.webm\""), "the file that is there is no error: {err}");
    assert!(err.contains(&at("clip/index.md", 7, column(figure, "src="))) && err.contains("`figure` src=\"diagram.svg\": no such file beside the page"), "{err}");
    assert!(err.contains(&at("solo.md", 5, 11)) && err.contains("this page is not a folder") && err.contains("move the page content/notes/solo.md to content/notes/solo/index.md"), "{err}");
    assert!(!err.contains("example.org"), "remote URLs are not checked: {err}");
    assert_eq!(err.matches("error:").count(), 4, "all at once: {err}");
    assert_eq!(tree(&site.join("public")), before, "public/ untouched");
    // With the files in place, the page builds and links them.
    write(&site, "static/media/gone.jpg", "x");
    write(&site, "content/notes/clip/clip.vtt", "WEBVTT\n");
    write(&site, "content/notes/clip/diagram.svg", "<svg xmlns=\"http://www.w3.org/2000/svg\"/>");
    write(&site, "content/notes/solo.md", "+++\ntitle = \"单页\"\n+++\n\n正文。\n");
    build_ok(&site, &[]);
    let html = read(&site, "public/notes/clip/index.html");
    assert!(html.contains("src=\"/notes/clip/clip.vtt\"") && html.contains("src=\"/notes/clip/diagram.svg\""), "{html}");
    // A site's own `video` means what the site says: its arguments are not checked.
    write(&site, "content/notes/clip/index.md", "+++\ntitle = \"视频\"\n+++\n\n正文。\n");
    write(&site, "templates/shortcodes.html", "{% component video(src: string, title: string) %}<p>{{ src }}</p>{% endcomponent video %}");
    write(&site, "content/notes/solo.md", "+++\ntitle = \"单页\"\n+++\n\n{{ <video src=\"dQw4w9WgXcQ\" title=\"别处的视频\" /> }}\n");
    build_ok(&site, &[]);
}

#[test]
fn load_data_and_get_taxonomy_url() {
    let (_t, site) = fixture("basic");
    write(&site, "data/venues.csv", "名称,城市\n郑州科技馆,郑州\n\"洛阳, 新馆\",洛阳\n");
    write(&site, "data/extra.toml", "note = \"来自 TOML\"\n");
    write(
        &site,
        "templates/index.html",
        "{% extends \"base.html\" %}{% block content %}{% set v = load_data(path=\"data/venues.csv\") %}\
         <p id=\"csv\">{{ v.headers | join(sep=\"|\") }};{% for r in v.records %}{{ r[0] }}/{{ r[1] }};{% endfor %}</p>\
         {% set t = load_data(path='data/extra.toml') %}<p id=\"toml\">{{ t.note }}</p>\
         <p id=\"tax\">{{ get_taxonomy_url(kind=\"tags\", name=\"科技馆\") }}</p>{% endblock content %}",
    );
    build_ok(&site, &[]);
    let html = read(&site, "public/index.html");
    assert!(html.contains("<p id=\"csv\">名称|城市;郑州科技馆/郑州;洛阳, 新馆/洛阳;</p>"), "{html}");
    assert!(html.contains("<p id=\"toml\">来自 TOML</p>"), "{html}");
    assert!(html.contains("<p id=\"tax\">/tags/ke-ji-guan/</p>"), "{html}");

    // An unknown term names the close ones; a path out of the site and a broken CSV are errors
    // that name the template line, and public/ stays as it was.
    let before = tree(&site.join("public"));
    write(&site, "templates/index.html", "{% extends \"base.html\" %}{% block content %}{{ get_taxonomy_url(kind=\"tags\", name=\"科技\") }}{% endblock content %}");
    let err = build_err(&site);
    assert!(err.contains("no term “科技” in `tags`"), "{err}");
    write(&site, "templates/index.html", "{% extends \"base.html\" %}\n{% block content %}\n{{ load_data(path=\"../outside.csv\") }}{% endblock content %}");
    let err = build_err(&site);
    assert!(err.contains("templates/index.html:3:4") && err.contains("may not leave the site"), "{err}");
    write(&site, "data/bad.csv", "a,b\n1\n");
    write(&site, "templates/index.html", "{% extends \"base.html\" %}{% block content %}{{ load_data(path=\"data/bad.csv\") }}{% endblock content %}");
    let err = build_err(&site);
    assert!(err.contains("not valid CSV at line 2"), "{err}");
    assert_eq!(tree(&site.join("public")), before);
}

/// A component named in Chinese, or a typo in a Chinese call, is an editor's mistake like any
/// other: an error at its line, never a crash.
#[test]
fn a_chinese_component_name_is_an_error_not_a_crash() {
    let (_t, site) = site_with("正文。\n");
    build_ok(&site, &[]);
    let before = tree(&site.join("public"));
    write(
        &site,
        "content/notes/components.md",
        "+++\ntitle = \"组件\"\ndate = 2024-02-01\n+++\n\n{{ <小贴士 /> }}\n\n{{ <notice 类型=\"注意\" /> }}\n\n{{ <x {...甲} /> }}\n",
    );
    let err = build_err(&site);
    assert!(err.contains("content/notes/components.md:8:12") && err.contains("unexpected `类` in the arguments"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(tree(&site.join("public")), before, "public/ untouched");
    // A call of a component named in Chinese: unknown, with its place.
    write(&site, "content/notes/components.md", "+++\ntitle = \"组件\"\ndate = 2024-02-01\n+++\n\n说明 {{ <小贴士 /> }}\n");
    let err = build_err(&site);
    assert!(err.contains("content/notes/components.md:6:") && err.contains("unknown component `小贴士`"), "{err}");
    // `‹` is no call: the text stays as written.
    write(&site, "content/notes/components.md", "+++\ntitle = \"组件\"\ndate = 2024-02-01\n+++\n\n{{ ‹小贴士 /> }}\n");
    build_ok(&site, &[]);
    let text = prose(&site, "public/notes/components/index.html");
    assert!(text.contains("{{ ‹小贴士 /&gt; }}"), "{text}");
}

/// Calls of the theme's `notice`, `ref` and `chart` in every shape: their escaping, defaults,
/// bodies with Markdown and calls inside, charts of every kind, of data and of a page.
const BUILT_IN_VARIANTS: &str = r#"{% <notice> %}
默认的提示，**粗体**与[链接](@/venues/郑州科技馆.md)。
{% </notice> %}

{% <notice kind="注意" title="开放 <时间> & “票价” 'x'"> %}
正文里有{{ <ref title="郑州科技馆" /> }}，还有 `代码`。

- 一
- 二
{% </notice> %}

{% <notice kind="温馨提示" title=""> %}
带好身份证。
{% </notice> %}

去{{ <ref title="郑州科技馆" text="科技馆 <&> \"引号\" 'x'" /> }}看看，或{{ <ref title="有数字的页" text="" /> }}。

{{ <chart title="各市 <数量> & \"x\"" unit="个" data={[{"label": "郑州", "value": 12}, {"label": "洛<阳>", "value": 7.25}, {"label": "开封&", "value": 0}]} /> }}

{{ <chart title="比例" unit="%" kind="line" data={[{"label": "2022", "value": 12.5}, {"label": "2023", "value": 13.21}, {"label": "2024", "value": 14}]} /> }}

{{ <chart title="很长的标签" kind="bar" data={[{"label": "加入掌上科技馆矩阵的科技馆加入掌上科技馆矩阵", "value": 125000000}, {"label": "农村中学科技馆", "value": 11000}]} /> }}

{{ <chart title="负数" data={[{"label": "甲", "value": -2.5}, {"label": "乙", "value": 3}]} /> }}

{{ <chart page="有数字的页" /> }}

{{ <chart page="有数字的页" title="改了标题" unit="家" kind="line" /> }}
"#;

const PAGE_WITH_FIGURES: &str = "+++\ntitle = \"有数字的页\"\ndate = 2024-03-01\n\n[[figures]]\nlabel = \"科技馆\"\nvalue = 32\nunit = \"家\"\n\n[[figures]]\nlabel = \"流动科技馆\"\nvalue = 120.5\n+++\n\n正文。\n";

/// The theme's `notice`, `ref` and `chart` are rendered without Tera where that gives the
/// same bytes (`render::builtin`): the same calls with the very same templates as the site's
/// own (so rendered by Tera) give the very same pages.
#[test]
fn built_in_components_give_the_same_bytes_as_their_templates() {
    let build = |own_copies: bool| {
        let (t, site) = site_with(BUILT_IN_VARIANTS);
        write(&site, "content/notes/figures.md", PAGE_WITH_FIGURES);
        if own_copies {
            let theme = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("themes/default/templates/components");
            for name in ["notice.html", "card.html", "chart.html"] {
                write(&site, &format!("templates/components/{name}"), &std::fs::read_to_string(theme.join(name)).unwrap());
            }
        }
        build_ok(&site, &[]);
        (t, read(&site, "public/notes/components/index.html"))
    };
    let (_a, built_in) = build(false);
    let (_b, by_tera) = build(true);
    assert_eq!(built_in, by_tera);
    // And the page has what the calls ask for (the comparison is not between two empty pages).
    let prose = Html::parse_fragment(&built_in);
    let count = |css: &str| prose.select(&Selector::parse(css).unwrap()).count();
    assert_eq!(count("div.notice[role=note]"), 3, "{built_in}");
    assert_eq!(count("figure.chart-figure"), 6, "{built_in}");
    assert!(built_in.contains("<strong>注意：开放 &lt;时间&gt; &amp; “票价” &#39;x&#39;</strong>"), "{built_in}");
    assert!(built_in.contains(">科技馆 &lt;&amp;&gt; &quot;引号&quot; &#39;x&#39;</a>"), "{built_in}");
    assert!(built_in.contains(">有数字的页</a>"), "an empty text is the page's title: {built_in}");
    assert!(built_in.contains("<th scope=\"row\">流动科技馆</th><td class=\"num\">120.5</td>"), "{built_in}");
    assert!(built_in.contains("<figcaption id=\"chart-gai-le-biao-ti-caption\">改了标题<span class=\"unit\">（单位：家）</span></figcaption>"), "{built_in}");
}
