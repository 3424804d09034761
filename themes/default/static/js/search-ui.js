// The /search/ page: results as you type, filter chips with counts, keyboard navigation,
// and the query in the URL (?q=…&section=…) so a search can be shared. The index and the
// search logic are in search.mjs, next to the index files (data-index on this script tag).
const script = document.querySelector("script[data-index]");
const indexUrl = new URL(script.dataset.index, location.href);
const form = document.getElementById("search-form");
const input = document.getElementById("search-q");
const status = document.getElementById("search-status");
const list = document.getElementById("search-results");
const filtersBox = document.getElementById("search-filters");
const more = document.getElementById("search-more");
const tools = document.getElementById("search-tools");
const filterToggle = document.getElementById("search-filter-toggle");
const activeList = document.getElementById("search-active");

const PAGE = 20;
const DEBOUNCE_MS = 160;
let limit = PAGE;
let filters = {};
let generation = 0;
let timer = 0;
let engine = null;
let openCities = false;

function loadEngine() {
  engine ??= import(new URL("search.mjs", indexUrl).href).then((m) => m.createSearch(indexUrl));
  return engine;
}

function readUrl() {
  const params = new URLSearchParams(location.search);
  input.value = params.get("q") ?? "";
  filters = {};
  for (const [k, v] of params) if (k !== "q" && v) filters[k] = v;
}

function writeUrl() {
  const params = new URLSearchParams();
  if (input.value.trim()) params.set("q", input.value.trim());
  for (const [k, v] of Object.entries(filters)) params.set(k, v);
  const query = params.toString();
  history.replaceState(null, "", query ? `?${query}` : location.pathname);
}

/** Only `<mark>` may appear in an excerpt (search.mjs escapes the rest); anything else is
 * shown as text, never as markup. */
function setExcerpt(el, html) {
  if (html.replace(/<\/?mark>/g, "").includes("<")) el.textContent = html.replace(/<[^>]*>/g, "");
  else el.innerHTML = html;
}

function renderResults(result, query) {
  list.replaceChildren(
    ...result.results.map((r) => {
      const li = document.createElement("li");
      li.className = "search-result";
      const a = document.createElement("a");
      // The part of the page the query asks for (门票 → #开放和门票), when there is one.
      a.href = r.heading ? `${r.url}#${encodeURIComponent(r.heading)}` : r.url;
      const section = document.createElement("span");
      section.className = "result-section";
      section.textContent = r.sectionLabel;
      const title = document.createElement("span");
      title.className = "result-title";
      title.textContent = r.heading ? `${r.title} › ${r.heading}` : r.title;
      const excerpt = document.createElement("span");
      excerpt.className = "result-excerpt";
      setExcerpt(excerpt, r.excerpt);
      a.append(section, title, excerpt);
      li.append(a);
      return li;
    })
  );
  const suggestions = result.total ? [] : (result.suggestions ?? []);
  if (suggestions.length) list.append(renderSuggestions(suggestions));
  status.textContent = result.total
    ? `找到 ${result.total} 个与“${query}”相关的结果${result.total > result.results.length ? `，显示前 ${result.results.length} 个` : ""}。`
    : suggestions.length
      ? `没有找到与“${query}”相关的内容。您是不是要找：${suggestions.map((s) => s.title).join("、")}？`
      : `没有找到与“${query}”相关的内容。可以换个说法，或试试拼音、简称。`;
  more.hidden = result.total <= result.results.length;
}

/** "Did you mean": the closest titles when nothing was found, as links in the result list
 * (so ↓ and Enter reach them like results). Titles are set as text, never as markup. */
function renderSuggestions(suggestions) {
  const li = document.createElement("li");
  li.className = "search-suggestions";
  const label = document.createElement("span");
  label.textContent = "您是不是要找：";
  li.append(label);
  suggestions.forEach((s, i) => {
    const a = document.createElement("a");
    a.href = s.url;
    a.textContent = s.title;
    if (i) li.append("、");
    li.append(a);
  });
  return li;
}

/** Section chips always; city chips folded away (18 of them) unless one is chosen; the
 * type-specific facets (level, kind, …) only once a section is chosen, where they agree. */
function renderFilters(result) {
  const shown = result.facets.filter(
    (f) => (f.values.length > 1 || f.values.some((v) => v.selected)) && (f.key === "section" || f.key === "city" || filters.section)
  );
  filtersBox.hidden = shown.length === 0;
  filtersBox.replaceChildren(
    ...shown.map((f) => {
      const set = document.createElement("fieldset");
      const legend = document.createElement("legend");
      legend.textContent = f.label;
      set.append(legend);
      for (const v of f.values) {
        const b = document.createElement("button");
        b.type = "button";
        b.className = "search-chip";
        b.setAttribute("aria-pressed", String(v.selected));
        b.dataset.key = f.key;
        b.dataset.value = v.value;
        b.textContent = v.label;
        const count = document.createElement("span");
        count.className = "count";
        count.textContent = `(${v.count})`;
        count.setAttribute("aria-label", `${v.count} 个结果`);
        b.append(count);
        set.append(b);
      }
      if (f.key !== "city") return set;
      const details = document.createElement("details");
      details.open = f.values.some((v) => v.selected) || openCities;
      details.addEventListener("toggle", () => (openCities = details.open));
      const summary = document.createElement("summary");
      summary.textContent = "按城市筛选";
      details.append(summary, set);
      return details;
    })
  );
}

async function run() {
  const query = input.value.trim();
  const mine = ++generation;
  writeUrl();
  if (!query) {
    list.replaceChildren();
    filtersBox.hidden = true;
    if (tools) tools.hidden = true;
    more.hidden = true;
    status.textContent = "";
    return;
  }
  status.textContent = "正在搜索…";
  try {
    const s = await loadEngine();
    const result = await s.search(query, { filters, limit });
    if (mine !== generation) return; // a newer search has started
    renderResults(result, result.query);
    renderFilters(result);
    renderActive(result);
  } catch (e) {
    if (mine !== generation) return;
    status.textContent = "搜索暂时不可用，请稍后再试。";
    console.error(e);
  }
}

function schedule() {
  clearTimeout(timer);
  limit = PAGE;
  timer = setTimeout(run, DEBOUNCE_MS);
}

input.addEventListener("input", schedule);
form.addEventListener("submit", (e) => {
  e.preventDefault();
  clearTimeout(timer);
  limit = PAGE;
  run().then(focusResults);
});
filtersBox.addEventListener("click", (e) => {
  const chip = e.target.closest(".search-chip");
  if (!chip) return;
  const { key, value } = chip.dataset;
  if (filters[key] === value) delete filters[key];
  else filters[key] = value;
  limit = PAGE;
  run().then(() => filtersBox.querySelector(`.search-chip[data-key="${CSS.escape(key)}"][data-value="${CSS.escape(value)}"]`)?.focus());
});
// The button hides itself once everything is shown, so it must not keep the focus (it would
// fall to <body>): go to the first result that was added, or else the last one, or the box.
more.addEventListener("click", () => {
  const first = list.children.length;
  limit += PAGE;
  run().then(() => {
    const added = list.children[first]?.querySelector("a");
    if (added) added.focus();
    else if (more.hidden && (document.activeElement === more || document.activeElement === document.body))
      (list.lastElementChild?.querySelector("a") ?? input).focus();
  });
});

// ↓ from the box goes to the first result; ↑ ↓ move between results; ↑ from the first
// result goes back to the box; Enter opens (links do that natively); Esc returns to the box.
const links = () => [...list.querySelectorAll("a")];
input.addEventListener("keydown", (e) => {
  if (e.key === "ArrowDown" && links().length) {
    e.preventDefault();
    links()[0].focus();
  }
});
list.addEventListener("keydown", (e) => {
  const all = links();
  const i = all.indexOf(document.activeElement);
  if (i < 0) return;
  if (e.key === "ArrowDown" && i + 1 < all.length) {
    e.preventDefault();
    all[i + 1].focus();
  } else if (e.key === "ArrowUp") {
    e.preventDefault();
    (i > 0 ? all[i - 1] : input).focus();
  } else if (e.key === "Escape") {
    input.focus();
  }
});
list.addEventListener("focusin", (e) => {
  for (const a of links()) a.removeAttribute("data-current");
  e.target.closest("a")?.setAttribute("data-current", "");
});

// ---- Layout for older visitors and phones (issue 25): results and their count first; on a
// narrow screen the filters fold behind one button (CSS shows it), the chosen ones as chips
// that remove themselves; after a search the focus and the view go to the results. ----

/** The chosen filters as chips next to the 筛选 button; its label counts them. */
function renderActive(result) {
  if (!tools) return;
  const chosen = result.facets.flatMap((f) => f.values.filter((v) => v.selected).map((v) => ({ key: f.key, value: v.value, label: v.label })));
  tools.hidden = filtersBox.hidden && chosen.length === 0;
  filterToggle.textContent = chosen.length ? `筛选（已选 ${chosen.length} 项）` : "筛选";
  activeList.replaceChildren(
    ...chosen.map((c) => {
      const li = document.createElement("li");
      const b = document.createElement("button");
      b.type = "button";
      b.className = "search-chip search-active-chip";
      b.dataset.key = c.key;
      b.dataset.value = c.value;
      const hidden = document.createElement("span");
      hidden.className = "visually-hidden";
      hidden.textContent = "取消筛选：";
      const x = document.createElement("span");
      x.setAttribute("aria-hidden", "true");
      x.className = "chip-x";
      x.textContent = "×";
      b.append(hidden, c.label, x);
      li.append(b);
      return li;
    })
  );
  activeList.hidden = chosen.length === 0;
}

if (filterToggle) {
  filterToggle.addEventListener("click", () => {
    const open = filterToggle.getAttribute("aria-expanded") !== "true";
    filterToggle.setAttribute("aria-expanded", String(open));
    filtersBox.classList.toggle("open", open);
  });
  activeList.addEventListener("click", (e) => {
    const chip = e.target.closest(".search-active-chip");
    if (!chip) return;
    delete filters[chip.dataset.key];
    limit = PAGE;
    run().then(() => (activeList.querySelector(".search-active-chip") ?? filterToggle).focus());
  });
}

/** After a search: the count and the first results on screen, the focus on the list (a
 * screen reader reads its name and size; the keyboard on a phone closes). */
function focusResults() {
  const first = list.querySelector("a");
  if (!first) return;
  list.tabIndex = -1;
  if (first.getBoundingClientRect().top > innerHeight - 120 || status.getBoundingClientRect().top < 0) {
    status.scrollIntoView({ block: "start" });
  }
  list.focus({ preventScroll: true });
}

readUrl();
if (input.value) run().then(focusResults);
else input.focus();
