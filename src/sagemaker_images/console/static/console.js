// The images console: plain DOM, no framework, no build step. Every value from the server is put on
// the page as text (textContent, setAttribute), never parsed as markup.
// Calls go to POST /console/api with the SageMaker API's own targets and bodies.

const page = document.body.dataset;
const config = { auth: page.auth, account: page.account, user: page.user, csrf: page.csrf };
const REGIONS = [
  "us-east-1", "us-east-2", "us-west-1", "us-west-2", "af-south-1", "ap-east-1", "ap-south-1",
  "ap-south-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-southeast-1",
  "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ca-central-1", "ca-west-1", "eu-central-1",
  "eu-central-2", "eu-west-1", "eu-west-2", "eu-west-3", "eu-south-1", "eu-south-2", "eu-north-1",
  "il-central-1", "me-south-1", "me-central-1", "sa-east-1", "cn-north-1", "cn-northwest-1",
  "us-gov-east-1", "us-gov-west-1",
];
const PAGE_SIZE = 20;
const VERSIONS_SHOWN = 25;
const POLL_MS = 1000;
const tenant = {
  account: config.auth === "sigv4" ? config.account : localStorage.getItem("console.account") || config.account,
  region: localStorage.getItem("console.region") || "us-east-1",
};
let pollTimer = null;
let renderId = 0;

// -- DOM ------------------------------------------------------------------------------------------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// Append children, skipping the null / false of optional parts (DOM append would print "null").
function fill(el, ...children) {
  for (const child of children.flat(Infinity)) {
    if (child !== null && child !== undefined && child !== false) el.append(child);
  }
  return el;
}

const $ = (selector, root = document) => root.querySelector(selector);
let uid = 0;
const nextId = (prefix) => `${prefix}-${++uid}`;

function announce(text) {
  const live = $("#announcer");
  live.textContent = "";
  setTimeout(() => { live.textContent = text; }, 50);
}

function setPage(title, crumbs, ...content) {
  document.title = `${title} | Amazon SageMaker images console`;
  const nav = $("#breadcrumbs");
  nav.replaceChildren(h("ol", {}, crumbs.map(([label, href], i) => h("li", {},
    href && i < crumbs.length - 1 ? h("a", { href, "data-nav": true }, label)
      : h("span", { "aria-current": "page" }, label)))));
  const main = $("#main");
  main.replaceChildren(...content);
}

// -- Formatting -----------------------------------------------------------------------------------

function formatTime(seconds) {
  if (seconds === undefined || seconds === null) return "-";
  return new Date(seconds * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

const STATUS_WORDS = {
  CREATING: "Creating", CREATED: "Created", CREATE_FAILED: "Create failed", UPDATING: "Updating",
  UPDATE_FAILED: "Update failed", DELETING: "Deleting", DELETE_FAILED: "Delete failed",
};

function statusBadge(status) {
  const kind = /FAILED$/.test(status) ? "error" : /ING$/.test(status) ? "progress" : "success";
  return h("span", { class: `badge badge-${kind}`, "data-status": status }, STATUS_WORDS[status] || status);
}

const busy = (status) => /ING$/.test(status || "");
const imagePath = (name) => `/console/images/${encodeURIComponent(name)}`;
const orDash = (value) => (value === undefined || value === null || value === "" ? "-" : value);

function details(rows) {
  return h("dl", { class: "details" }, rows.map(([term, value]) =>
    h("div", { class: "details-row" }, h("dt", {}, term), h("dd", {}, value instanceof Node ? value : orDash(value)))));
}

// -- API ------------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(code, message, status) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

async function call(operation, params = {}) {
  let response;
  try {
    response = await fetch("/console/api", {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": `SageMaker.${operation}`,
        "X-CSRF-Token": config.csrf,
        "X-Console-Region": tenant.region,
        "X-Console-Account": tenant.account,
      },
      body: JSON.stringify(params),
    });
  } catch (error) {
    throw new ApiError("NetworkError", "The server could not be reached. Check the connection and retry.", 0);
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    if (response.status === 401) showSignIn("Your console session has ended. Sign in again.");
    throw new ApiError(data.__type || `HTTP ${response.status}`, data.message || response.statusText, response.status);
  }
  return data;
}

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": config.csrf },
    body: JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(data.__type || `HTTP ${response.status}`, data.message || "", response.status);
  return data;
}

// -- Forms and their errors -------------------------------------------------------------------------

function field(label, input, hint) {
  const id = input.id || nextId("field");
  input.id = id;
  const errorId = `${id}-error`;
  const hintId = hint ? `${id}-hint` : null;
  if (hintId) input.setAttribute("aria-describedby", `${hintId} ${errorId}`);
  else input.setAttribute("aria-describedby", errorId);
  return h("div", { class: "field" },
    h("label", { for: id }, label),
    hint ? h("p", { class: "hint", id: hintId }, hint) : null,
    input,
    h("p", { class: "field-error", id: errorId, hidden: true }));
}

function textInput(member, attrs = {}) {
  return h("input", { type: "text", "data-member": member, autocomplete: "off", spellcheck: "false", ...attrs });
}

function select(member, options, value) {
  return h("select", { "data-member": member },
    options.map(([optionValue, label]) => h("option", { value: optionValue, selected: optionValue === (value || "") }, label)));
}

function formAlert() {
  return h("div", { class: "alert alert-error", role: "alert", hidden: true });
}

function clearErrors(form) {
  for (const el of form.querySelectorAll(".field-error")) { el.hidden = true; el.textContent = ""; }
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  const alert = $(".alert", form);
  if (alert) { alert.hidden = true; alert.replaceChildren(); }
}

// AWS names the offending member in its message ("... at 'imageName' failed to satisfy ..."): mark
// that field and put the message under it, as well as in the form's alert.
function showError(form, error) {
  const alert = $(".alert", form);
  const title = error.code === "ValidationException" ? "Validation error" : error.code;
  alert.replaceChildren(h("strong", {}, title), " ", error.message);
  alert.hidden = false;
  const members = [...error.message.matchAll(/at '([A-Za-z]+)/g)].map((m) => m[1].toLowerCase());
  let first = null;
  for (const input of form.querySelectorAll("[data-member]")) {
    const member = input.dataset.member.toLowerCase();
    if (!members.includes(member)) continue;
    input.setAttribute("aria-invalid", "true");
    const message = $(`#${CSS.escape(input.id)}-error`, form);
    if (message) {
      const parts = error.message.replace(/^\d+ validation errors? detected:\s*/, "").split(/;\s*/);
      const own = parts.filter((part) => part.toLowerCase().includes(`at '${member}`));
      message.textContent = (own.length ? own : [error.message]).join("; ");
      message.hidden = false;
    }
    first = first || input;
  }
  if (first) first.focus();
  else {
    alert.setAttribute("tabindex", "-1");
    alert.focus();
  }
}

async function submitting(form, action) {
  clearErrors(form);
  const buttons = form.querySelectorAll("button");
  buttons.forEach((b) => { b.disabled = true; });
  try {
    await action();
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    showError(form, error);
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
}

function valueOf(form, member) {
  const input = $(`[data-member="${member}"]`, form);
  if (!input) return undefined;
  if (input.type === "checkbox") return input.checked;
  return input.value.trim();
}

function splitList(text) {
  return text.split(/[\s,]+/).filter(Boolean);
}

function clientToken() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function dialog(title, message, confirmLabel, { requireText } = {}) {
  return new Promise((resolve) => {
    const input = requireText ? h("input", { type: "text", autocomplete: "off", spellcheck: "false" }) : null;
    const confirm = h("button", { type: "submit", class: "button button-danger", value: "confirm", disabled: Boolean(requireText) }, confirmLabel);
    if (input) input.addEventListener("input", () => { confirm.disabled = input.value !== requireText; });
    const form = h("form", { method: "dialog" },
      h("h2", {}, title),
      h("p", {}, message),
      input ? field(`To confirm, type "${requireText}"`, input) : null,
      h("div", { class: "actions" },
        h("button", { type: "submit", class: "button", value: "cancel" }, "Cancel"), confirm));
    const box = h("dialog", { class: "dialog", "aria-label": title }, form);
    box.addEventListener("close", () => { box.remove(); resolve(box.returnValue === "confirm"); });
    document.body.append(box);
    box.showModal();
    (input || confirm).focus();
  });
}

// -- Polling while something moves -----------------------------------------------------------------

function stopPolling() {
  clearTimeout(pollTimer);
  pollTimer = null;
}

function pollWhile(moving, refresh) {
  stopPolling();
  if (moving) pollTimer = setTimeout(refresh, POLL_MS);
}

// -- Identity: account, region, sign-in --------------------------------------------------------------

function renderIdentity() {
  const box = $("#identity");
  const regionSelect = h("select", { id: "region-select", onchange: (e) => switchTenant(tenant.account, e.target.value) },
    [...new Set([tenant.region, ...REGIONS])].map((r) => h("option", { value: r, selected: r === tenant.region }, r)));
  const region = h("div", { class: "identity-item" }, h("label", { for: "region-select" }, "Region"), regionSelect);
  if (config.auth === "sigv4") {
    if (!config.user) { box.replaceChildren(); return; }
    box.replaceChildren(
      h("span", { class: "identity-item" }, "Account ", h("strong", { id: "account-id" }, config.account)),
      h("span", { class: "identity-item" }, "Signed in as ", h("strong", {}, config.user)),
      region,
      h("button", { type: "button", class: "button button-link", onclick: signOut }, "Sign out"));
    return;
  }
  const accountInput = h("input", { id: "account-input", value: tenant.account, inputmode: "numeric", pattern: "[0-9]{12}", maxlength: 12, size: 13, autocomplete: "off" });
  const accountForm = h("form", { class: "identity-item", onsubmit: (e) => {
    e.preventDefault();
    if (!accountInput.checkValidity()) { accountInput.reportValidity(); return; }
    switchTenant(accountInput.value, tenant.region);
  } }, h("label", { for: "account-input" }, "Account"), accountInput,
  h("button", { type: "submit", class: "button button-small" }, "Switch"));
  box.replaceChildren(accountForm, region);
}

function switchTenant(account, region) {
  tenant.account = account;
  tenant.region = region;
  if (config.auth !== "sigv4") localStorage.setItem("console.account", account);
  localStorage.setItem("console.region", region);
  announce(`Showing account ${account} in ${region}`);
  go("/console");
}

function showSignIn(message) {
  if (config.auth !== "sigv4") return;
  config.user = "";
  renderIdentity();
  renderSignIn(message);
}

function renderSignIn(message) {
  stopPolling();
  const form = h("form", { class: "panel form", novalidate: true });
  const key = h("input", { type: "text", autocomplete: "username", spellcheck: "false", "data-member": "AccessKeyId" });
  const secret = h("input", { type: "password", autocomplete: "current-password", "data-member": "SecretAccessKey" });
  fill(form,
    formAlert(),
    message ? h("p", { class: "alert alert-info" }, message) : null,
    field("Access key ID", key),
    field("Secret access key", secret),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "button button-primary" }, "Sign in")));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    submitting(form, async () => {
      await post("/console/login", { AccessKeyId: key.value.trim(), SecretAccessKey: secret.value });
      secret.value = "";
      location.reload();
    });
  });
  setPage("Sign in", [["Sign in"]], h("h1", {}, "Sign in"),
    h("p", {}, "This server verifies AWS Signature Version 4. Sign in with an access key from its credentials file; the console acts with that key's account and permissions."),
    form);
}

async function signOut() {
  await post("/console/logout", {}).catch(() => {});
  location.assign("/console");
}

// -- Images ---------------------------------------------------------------------------------------

const SORTS = [["CREATION_TIME", "Creation time"], ["LAST_MODIFIED_TIME", "Last modified"], ["IMAGE_NAME", "Image name"]];

function renderImages() {
  const query = new URLSearchParams(location.search);
  const view = {
    name: query.get("name") || "",
    sort: SORTS.some(([s]) => s === query.get("sort")) ? query.get("sort") : "CREATION_TIME",
    order: query.get("order") === "ASCENDING" ? "ASCENDING" : "DESCENDING",
    tokens: [undefined],
    page: 0,
  };
  const search = h("input", { type: "search", id: "image-search", value: view.name, "data-member": "NameContains", placeholder: "Find images by name", autocomplete: "off" });
  const sortSelect = select("SortBy", SORTS, view.sort);
  const orderSelect = select("SortOrder", [["DESCENDING", "Descending"], ["ASCENDING", "Ascending"]], view.order);
  const filters = h("form", { class: "filters", role: "search" },
    formAlert(),
    h("div", { class: "filter-fields" },
      field("Search by image name", search),
      field("Sort by", sortSelect),
      field("Order", orderSelect),
      h("div", { class: "field field-button" }, h("button", { type: "submit", class: "button" }, "Search"))));
  const tableBody = h("tbody");
  const headers = [["Image name", "IMAGE_NAME"], ["Display name"], ["Status"], ["Description"],
    ["Creation time", "CREATION_TIME"], ["Last modified", "LAST_MODIFIED_TIME"]];
  const headRow = h("tr", {}, headers.map(([label, sort]) => {
    if (!sort) return h("th", { scope: "col" }, label);
    const active = view.sort === sort;
    const arrow = active ? (view.order === "ASCENDING" ? " ▲" : " ▼") : "";
    return h("th", { scope: "col", "aria-sort": active ? view.order.toLowerCase() : "none" },
      h("button", { type: "button", class: "sort-button", onclick: () => {
        const order = active && view.order === "DESCENDING" ? "ASCENDING" : "DESCENDING";
        go(listPath({ ...view, sort, order }));
      } }, label, h("span", { "aria-hidden": "true" }, arrow)));
  }));
  const count = h("span", { class: "count" });
  const previous = h("button", { type: "button", class: "button", onclick: () => { view.page -= 1; load(); } }, "Previous page");
  const next = h("button", { type: "button", class: "button", onclick: () => { view.page += 1; load(); } }, "Next page");
  const pageLabel = h("span", { class: "page-label", "aria-live": "polite" });
  const status = h("p", { class: "table-status", role: "status" });
  filters.addEventListener("submit", (e) => {
    e.preventDefault();
    go(listPath({ name: search.value.trim(), sort: sortSelect.value, order: orderSelect.value }));
  });
  setPage("Images", [["Images"]],
    h("div", { class: "page-head" },
      h("h1", {}, "Images ", count),
      h("a", { href: "/console/create-image", class: "button button-primary", "data-nav": true }, "Create image")),
    h("p", { class: "lead" }, "Custom images for SageMaker in account ", h("strong", {}, tenant.account), " in ", h("strong", {}, tenant.region), "."),
    filters,
    h("div", { class: "table-wrap" },
      h("table", { class: "table table-stack", id: "images-table" },
        h("caption", { class: "visually-hidden" }, "Images"),
        h("thead", {}, headRow), tableBody)),
    status,
    h("div", { class: "pager" }, previous, pageLabel, next));

  const id = ++renderId;
  async function load() {
    const params = { MaxResults: PAGE_SIZE, SortBy: view.sort, SortOrder: view.order };
    if (view.name) params.NameContains = view.name;
    const token = view.tokens[view.page];
    if (token) params.NextToken = token;
    let result;
    try {
      result = await call("ListImages", params);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      if (id !== renderId) return;
      tableBody.replaceChildren();
      showError(filters, error);
      status.textContent = "";
      return;
    }
    if (id !== renderId) return;
    clearErrors(filters);
    view.tokens[view.page + 1] = result.NextToken;
    const images = result.Images || [];
    tableBody.replaceChildren(...images.map((image) => h("tr", {},
      h("td", { "data-label": "Image name" }, h("a", { href: imagePath(image.ImageName), "data-nav": true }, image.ImageName)),
      h("td", { "data-label": "Display name" }, orDash(image.DisplayName)),
      h("td", { "data-label": "Status" }, statusBadge(image.ImageStatus),
        image.FailureReason ? h("span", { class: "failure" }, image.FailureReason) : null),
      h("td", { "data-label": "Description", class: "description" }, orDash(image.Description)),
      h("td", { "data-label": "Creation time" }, formatTime(image.CreationTime)),
      h("td", { "data-label": "Last modified" }, formatTime(image.LastModifiedTime)))));
    status.textContent = images.length ? "" : view.name ? `No images match "${view.name}".` : "No images yet. Create one to start.";
    pageLabel.textContent = `Page ${view.page + 1}`;
    count.textContent = `(${images.length} shown)`;
    previous.disabled = view.page === 0;
    next.disabled = !result.NextToken;
    pollWhile(images.some((image) => busy(image.ImageStatus)), load);
  }
  load();
}

function listPath({ name, sort, order }) {
  const query = new URLSearchParams();
  if (name) query.set("name", name);
  if (sort && sort !== "CREATION_TIME") query.set("sort", sort);
  if (order && order !== "DESCENDING") query.set("order", order);
  const text = query.toString();
  return text ? `/console?${text}` : "/console";
}

// -- Create image -----------------------------------------------------------------------------------

function tagRows(container) {
  const add = () => {
    const key = textInput("Key");
    const value = textInput("Value");
    const row = h("div", { class: "tag-row" }, field("Key", key), field("Value", value),
      h("button", { type: "button", class: "button button-small", onclick: () => row.remove() }, "Remove"));
    container.append(row);
    return key;
  };
  return add;
}

function tagsFrom(container) {
  return [...container.querySelectorAll(".tag-row")].map((row) => ({
    Key: $("[data-member=Key]", row).value.trim(),
    Value: $("[data-member=Value]", row).value,
  })).filter((tag) => tag.Key || tag.Value);
}

function renderCreateImage() {
  const form = h("form", { class: "panel form", novalidate: true });
  const tags = h("div", { class: "tags" });
  const addTag = tagRows(tags);
  fill(form,
    formAlert(),
    h("h2", {}, "Image properties"),
    field("Image name", textInput("ImageName", { required: true, maxlength: 63 }),
      "Up to 63 letters, numbers and hyphens. Must be unique in the account and region."),
    field("Display name", textInput("DisplayName", { maxlength: 128 }), "Optional. The name shown for the image."),
    field("Description", h("textarea", { "data-member": "Description", rows: 3, maxlength: 512 }), "Optional."),
    field("IAM role ARN", textInput("RoleArn", { required: true, placeholder: `arn:aws:iam::${tenant.account}:role/SageMakerImageRole` }),
      "The role SageMaker uses to perform tasks on your behalf."),
    h("h2", {}, "Tags"),
    tags,
    h("button", { type: "button", class: "button button-small", onclick: () => addTag().focus() }, "Add tag"),
    h("div", { class: "actions" },
      h("a", { href: "/console", class: "button", "data-nav": true }, "Cancel"),
      h("button", { type: "submit", class: "button button-primary" }, "Create image")));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    submitting(form, async () => {
      const params = { ImageName: valueOf(form, "ImageName"), RoleArn: valueOf(form, "RoleArn") };
      const display = valueOf(form, "DisplayName");
      const description = $("[data-member=Description]", form).value;
      if (display) params.DisplayName = display;
      if (description.trim()) params.Description = description;
      const tagList = tagsFrom(tags);
      if (tagList.length) params.Tags = tagList;
      await call("CreateImage", params);
      announce(`Image ${params.ImageName} created`);
      go(imagePath(params.ImageName));
    });
  });
  setPage("Create image", [["Images", "/console"], ["Create image"]], h("h1", {}, "Create image"), form);
  $("[data-member=ImageName]", form).focus();
}

// -- One image ------------------------------------------------------------------------------------

async function renderImage(name) {
  const id = ++renderId;
  const detailsBox = h("div", { class: "panel", id: "image-details" });
  const tagsBox = h("div", { class: "panel", id: "image-tags" });
  const versionsBox = h("div", { class: "panel", id: "image-versions" });
  const aliasesBox = h("div", { class: "panel", id: "image-aliases" });
  const editBox = h("div", { id: "edit-box" });
  const pageAlert = formAlert();
  const pageForm = h("div", {}, pageAlert);
  const actions = h("div", { class: "page-actions" },
    h("button", { type: "button", class: "button", onclick: () => editImage() }, "Edit"),
    h("button", { type: "button", class: "button button-danger", onclick: () => deleteImage() }, "Delete"));
  setPage(name, [["Images", "/console"], [name]],
    h("div", { class: "page-head" }, h("h1", {}, name), actions),
    pageForm, editBox,
    h("section", { "aria-labelledby": "details-heading" }, h("h2", { id: "details-heading" }, "Image details"), detailsBox),
    h("section", { "aria-labelledby": "versions-heading" },
      h("div", { class: "section-head" }, h("h2", { id: "versions-heading" }, "Versions"),
        h("a", { href: `${imagePath(name)}/create-version`, class: "button button-primary", "data-nav": true }, "Create image version")),
      versionsBox),
    h("section", { "aria-labelledby": "aliases-heading" }, h("h2", { id: "aliases-heading" }, "Aliases"), aliasesBox),
    h("section", { "aria-labelledby": "tags-heading" }, h("h2", { id: "tags-heading" }, "Tags"), tagsBox));

  let image = null;
  let versions = [];
  // The newest versions shown (more on request), and what each settled one was last seen as: a poll
  // while something moves asks again only for versions whose summary changed.
  let versionLimit = VERSIONS_SHOWN;
  let moreVersions = false;
  let seen = new Map();

  async function load({ polling = false } = {}) {
    if (!polling) seen = new Map();
    let described;
    try {
      described = await call("DescribeImage", { ImageName: name });
    } catch (error) {
      if (!(error instanceof ApiError) || id !== renderId) return;
      if (error.code === "ResourceNotFound" && image) {
        setPage(name, [["Images", "/console"], [name]], h("h1", {}, name),
          h("p", { class: "alert alert-info", role: "status" }, `Image ${name} was deleted.`),
          h("a", { href: "/console", "data-nav": true }, "Back to images"));
        return;
      }
      showError(pageForm, error);
      return;
    }
    const [listed, tagged, aliases] = await Promise.all([
      listUpTo("ListImageVersions", { ImageName: name, SortBy: "VERSION", SortOrder: "DESCENDING" }, "ImageVersions", versionLimit),
      listUpTo("ListTags", { ResourceArn: described.ImageArn }, "Tags", 50).then((r) => r.items).catch(() => []),
      call("ListAliases", { ImageName: name }).then((r) => r.SageMakerImageVersionAliases || []).catch(() => []),
    ]);
    const full = await Promise.all(listed.items.map(async (summary) => {
      const known = seen.get(summary.Version);
      if (known && known.ImageVersionStatus === summary.ImageVersionStatus
          && known.LastModifiedTime === summary.LastModifiedTime && !busy(summary.ImageVersionStatus)) return known;
      const [version, own] = await Promise.all([
        call("DescribeImageVersion", { ImageName: name, Version: summary.Version }).catch(() => summary),
        call("ListAliases", { ImageName: name, Version: summary.Version })
          .then((r) => r.SageMakerImageVersionAliases || []).catch(() => []),
      ]);
      return { ...summary, ...version, Aliases: own };
    }));
    if (id !== renderId) return;
    image = described;
    versions = full;
    moreVersions = listed.more;
    seen = new Map(full.map((v) => [v.Version, v]));
    drawDetails(described);
    drawVersions(full);
    drawAliases(aliases, full);
    drawTags(described.ImageArn, tagged);
    pollWhile(busy(described.ImageStatus) || full.some((v) => busy(v.ImageVersionStatus)), () => load({ polling: true }));
  }

  function drawDetails(d) {
    detailsBox.replaceChildren(details([
      ["Image name", d.ImageName],
      ["Display name", d.DisplayName],
      ["Description", d.Description],
      ["Status", statusBadge(d.ImageStatus)],
      d.FailureReason ? ["Failure reason", h("span", { class: "failure" }, d.FailureReason)] : null,
      ["Image ARN", h("code", {}, d.ImageArn)],
      ["IAM role ARN", d.RoleArn ? h("code", {}, d.RoleArn) : "-"],
      ["Creation time", formatTime(d.CreationTime)],
      ["Last modified", formatTime(d.LastModifiedTime)],
    ].filter(Boolean)));
  }

  function drawVersions(list) {
    if (!list.length) {
      versionsBox.replaceChildren(h("p", { class: "empty" }, "No versions yet. Create an image version from a container image."));
      return;
    }
    const rows = list.flatMap((v) => {
      const open = h("button", { type: "button", class: "button button-small", "aria-expanded": "false" }, "Details");
      const more = h("tr", { class: "version-more", hidden: true },
        h("td", { colspan: 6 }, details([
          ["Version ARN", h("code", {}, v.ImageVersionArn)],
          ["Base image", v.BaseImage],
          ["Container image", v.ContainerImage],
          ["Vendor guidance", v.VendorGuidance],
          ["Job type", v.JobType],
          ["Processor", v.Processor],
          ["ML framework", v.MLFramework],
          ["Programming language", v.ProgrammingLang],
          ["Horovod", v.Horovod === undefined ? "-" : v.Horovod ? "Yes" : "No"],
          ["Release notes", v.ReleaseNotes],
          ["Failure reason", v.FailureReason],
          ["Last modified", formatTime(v.LastModifiedTime)],
        ])));
      // A version's tags are read when its details are first opened.
      const versionTags = h("div", { class: "version-tags" });
      const refreshTags = async () => {
        const tags = await listUpTo("ListTags", { ResourceArn: v.ImageVersionArn }, "Tags", 50);
        versionTags.replaceChildren(h("h3", {}, "Tags"),
          tagsForm(v.ImageVersionArn, tags.items, `Tags of version ${v.Version}`, `version-${v.Version}-tags`, refreshTags));
      };
      more.firstChild.append(versionTags);
      open.addEventListener("click", () => {
        more.hidden = !more.hidden;
        open.setAttribute("aria-expanded", String(!more.hidden));
        if (!more.hidden && !versionTags.firstChild) refreshTags().catch(() => {});
      });
      const row = h("tr", { "data-version": v.Version },
        h("td", { "data-label": "Version" }, String(v.Version)),
        h("td", { "data-label": "Status" }, statusBadge(v.ImageVersionStatus),
          v.FailureReason ? h("span", { class: "failure" }, v.FailureReason) : null),
        h("td", { "data-label": "Aliases" }, v.Aliases.length ? v.Aliases.map((a) => h("span", { class: "chip" }, a)) : "-"),
        h("td", { "data-label": "Base image", class: "mono" }, orDash(v.BaseImage)),
        h("td", { "data-label": "Creation time" }, formatTime(v.CreationTime)),
        h("td", { "data-label": "Actions", class: "row-actions" }, open,
          h("button", { type: "button", class: "button button-small", onclick: () => editVersion(v) }, "Edit"),
          h("button", { type: "button", class: "button button-small button-danger", onclick: () => deleteVersion(v) }, "Delete")));
      return [row, more];
    });
    versionsBox.replaceChildren(h("div", { class: "table-wrap" }, h("table", { class: "table table-stack", id: "versions-table" },
      h("caption", { class: "visually-hidden" }, `Versions of ${name}`),
      h("thead", {}, h("tr", {}, ["Version", "Status", "Aliases", "Base image", "Creation time", "Actions"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, rows))),
    moreVersions ? h("div", { class: "pager" }, h("button", { type: "button", class: "button", onclick: () => {
      versionLimit += VERSIONS_SHOWN;
      load();
    } }, "Show more versions")) : null);
  }

  function drawAliases(aliases, list) {
    const owner = new Map();
    for (const v of list) for (const a of v.Aliases) owner.set(a, v.Version);
    const names = [...new Set([...aliases, ...owner.keys()])].sort();
    // An alias of a version older than those shown: its version is not known without that version.
    const elsewhere = moreVersions ? "An older version" : "-";
    if (!names.length) {
      aliasesBox.replaceChildren(h("p", { class: "empty" }, "No aliases. Add them when you create or edit a version."));
      return;
    }
    const form = h("form", { class: "form-inline", novalidate: true }, formAlert());
    const rows = names.map((alias) => {
      const target = h("select", { "aria-label": `Move alias ${alias} to version`, "data-member": "Version" },
        list.filter((v) => !busy(v.ImageVersionStatus) || v.Version === owner.get(alias))
          .map((v) => h("option", { value: v.Version, selected: v.Version === owner.get(alias) }, `Version ${v.Version}`)));
      const move = h("button", { type: "button", class: "button button-small" }, "Move alias");
      move.addEventListener("click", () => submitting(form, () => moveAlias(alias, owner.get(alias), Number(target.value))));
      return h("tr", { "data-alias": alias },
        h("td", { "data-label": "Alias" }, h("span", { class: "chip" }, alias)),
        h("td", { "data-label": "Version" }, owner.has(alias) ? `Version ${owner.get(alias)}` : elsewhere),
        h("td", { "data-label": "Move to", class: "row-actions" }, target, move));
    });
    fill(form, h("div", { class: "table-wrap" }, h("table", { class: "table table-stack", id: "aliases-table" },
      h("caption", { class: "visually-hidden" }, `Aliases of ${name}`),
      h("thead", {}, h("tr", {}, ["Alias", "Version", "Move to"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, rows))));
    aliasesBox.replaceChildren(form);
  }

  // An alias names one version at a time: release it from its version, then give it to the other.
  async function moveAlias(alias, from, to) {
    if (from === to) return;
    if (from !== undefined) await call("UpdateImageVersion", { ImageName: name, Version: from, AliasesToDelete: [alias] });
    try {
      await call("UpdateImageVersion", { ImageName: name, Version: to, AliasesToAdd: [alias] });
    } catch (error) {
      if (from !== undefined) await call("UpdateImageVersion", { ImageName: name, Version: from, AliasesToAdd: [alias] }).catch(() => {});
      throw error;
    }
    announce(`Alias ${alias} now names version ${to}`);
    await load();
  }

  function drawTags(arn, tags) {
    tagsBox.replaceChildren(tagsForm(arn, tags, `Tags of ${name}`, "tags-table", load));
  }

  function editImage() {
    if (!image) return;
    const form = h("form", { class: "panel form", novalidate: true, "aria-labelledby": "edit-heading" });
    fill(form,
      h("h2", { id: "edit-heading" }, "Edit image"),
      formAlert(),
      field("Display name", textInput("DisplayName", { value: image.DisplayName || "" })),
      field("Description", h("textarea", { "data-member": "Description", rows: 3 }, image.Description || "")),
      field("IAM role ARN", textInput("RoleArn", { value: image.RoleArn || "" })),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "button", onclick: () => editBox.replaceChildren() }, "Cancel"),
        h("button", { type: "submit", class: "button button-primary" }, "Save changes")));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      submitting(form, async () => {
        const params = { ImageName: name };
        const remove = [];
        for (const member of ["DisplayName", "Description", "RoleArn"]) {
          const input = $(`[data-member=${member}]`, form);
          const next = member === "Description" ? input.value : input.value.trim();
          if (next === (image[member] || "")) continue;
          if (next === "" && member !== "RoleArn") remove.push(member);
          else params[member] = next;
        }
        if (remove.length) params.DeleteProperties = remove;
        if (Object.keys(params).length === 1) { editBox.replaceChildren(); return; }
        await call("UpdateImage", params);
        editBox.replaceChildren();
        announce(`Image ${name} updated`);
        await load();
      });
    });
    editBox.replaceChildren(form);
    $("[data-member=DisplayName]", form).focus();
  }

  function editVersion(v) {
    const form = h("form", { class: "panel form", novalidate: true, "aria-labelledby": "edit-version-heading" });
    const current = v.Aliases.map((alias) => h("label", { class: "check" },
      h("input", { type: "checkbox", value: alias, "data-remove-alias": true }), ` Remove ${alias}`));
    fill(form,
      h("h2", { id: "edit-version-heading" }, `Edit version ${v.Version}`),
      formAlert(),
      field("Aliases to add", textInput("AliasesToAdd"), "Separate aliases with commas or spaces."),
      current.length ? h("fieldset", {}, h("legend", {}, "Aliases to remove"), current) : null,
      versionFields(v),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "button", onclick: () => editBox.replaceChildren() }, "Cancel"),
        h("button", { type: "submit", class: "button button-primary" }, "Save changes")));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      submitting(form, async () => {
        const params = { ImageName: name, Version: v.Version, ...versionParams(form, v) };
        const add = splitList(valueOf(form, "AliasesToAdd"));
        const remove = [...form.querySelectorAll("[data-remove-alias]:checked")].map((c) => c.value);
        if (add.length) params.AliasesToAdd = add;
        if (remove.length) params.AliasesToDelete = remove;
        await call("UpdateImageVersion", params);
        editBox.replaceChildren();
        announce(`Version ${v.Version} updated`);
        await load();
      });
    });
    editBox.replaceChildren(form);
    form.scrollIntoView({ block: "start" });
    $("[data-member=AliasesToAdd]", form).focus();
  }

  async function deleteVersion(v) {
    const ok = await dialog(`Delete version ${v.Version}?`,
      `Version ${v.Version} of ${name} and its aliases are deleted. This cannot be undone.`, "Delete");
    if (!ok) return;
    await submittingPage(async () => {
      await call("DeleteImageVersion", { ImageName: name, Version: v.Version });
      announce(`Version ${v.Version} is being deleted`);
      await load();
    });
  }

  async function deleteImage() {
    const ok = await dialog(`Delete image ${name}?`,
      "The image, all its versions, aliases and tags are deleted. This cannot be undone.", "Delete", { requireText: name });
    if (!ok) return;
    await submittingPage(async () => {
      await call("DeleteImage", { ImageName: name });
      announce(`Image ${name} is being deleted`);
      await load();
    });
  }

  async function submittingPage(action) {
    clearErrors(pageForm);
    try { await action(); } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      showError(pageForm, error);
    }
  }

  await load();
}

// The tags of one resource (an image or a version): a table with Remove buttons and an Add tag form.
// ``after`` runs once a change is made (a reload of what shows them).
function tagsForm(arn, tags, caption, tableId, after) {
  const form = h("form", { class: "form-inline", novalidate: true });
  const key = textInput("Key");
  const value = textInput("Value");
  const rows = tags.map((tag) => h("tr", {},
    h("td", { "data-label": "Key" }, tag.Key),
    h("td", { "data-label": "Value" }, orDash(tag.Value)),
    h("td", { "data-label": "Actions", class: "row-actions" },
      h("button", { type: "button", class: "button button-small", "aria-label": `Remove tag ${tag.Key}`, onclick: () => submitting(form, async () => {
        await call("DeleteTags", { ResourceArn: arn, TagKeys: [tag.Key] });
        announce(`Tag ${tag.Key} removed`);
        await after();
      }) }, "Remove"))));
  fill(form,
    formAlert(),
    tags.length ? h("div", { class: "table-wrap" }, h("table", { class: "table table-stack", id: tableId },
      h("caption", { class: "visually-hidden" }, caption),
      h("thead", {}, h("tr", {}, ["Key", "Value", "Actions"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, rows))) : h("p", { class: "empty" }, "No tags."),
    h("div", { class: "tag-row" }, field("Key", key), field("Value", value),
      h("button", { type: "submit", class: "button" }, "Add tag")));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    submitting(form, async () => {
      await call("AddTags", { ResourceArn: arn, Tags: [{ Key: key.value.trim(), Value: value.value }] });
      announce(`Tag ${key.value.trim()} added`);
      await after();
    });
  });
  return form;
}

// Up to ``limit`` items of a listing, and whether it has more.
async function listUpTo(operation, params, member, limit) {
  const items = [];
  let token;
  do {
    const page = { ...params, MaxResults: Math.min(100, limit - items.length) };
    const result = await call(operation, token ? { ...page, NextToken: token } : page);
    items.push(...(result[member] || []));
    token = result.NextToken;
  } while (token && items.length < limit);
  return { items, more: Boolean(token) };
}

// -- Versions ----------------------------------------------------------------------------------------

const VENDOR_GUIDANCE = [["", "-"], ["NOT_PROVIDED", "Not provided"], ["STABLE", "Stable"], ["TO_BE_ARCHIVED", "To be archived"], ["ARCHIVED", "Archived"]];
const JOB_TYPES = [["", "-"], ["TRAINING", "Training"], ["INFERENCE", "Inference"], ["NOTEBOOK_KERNEL", "Notebook kernel"]];
const PROCESSORS = [["", "-"], ["CPU", "CPU"], ["GPU", "GPU"]];

function versionFields(v = {}) {
  return h("div", { class: "field-group" },
    field("Vendor guidance", select("VendorGuidance", VENDOR_GUIDANCE, v.VendorGuidance)),
    field("Job type", select("JobType", JOB_TYPES, v.JobType)),
    field("Processor", select("Processor", PROCESSORS, v.Processor)),
    field("ML framework", textInput("MLFramework", { value: v.MLFramework || "", placeholder: "TensorFlow 2.15" })),
    field("Programming language", textInput("ProgrammingLang", { value: v.ProgrammingLang || "", placeholder: "Python 3.12" })),
    h("div", { class: "field" }, h("label", { class: "check" },
      h("input", { type: "checkbox", "data-member": "Horovod", checked: Boolean(v.Horovod) }), " Horovod")),
    field("Release notes", h("textarea", { "data-member": "ReleaseNotes", rows: 3 }, v.ReleaseNotes || "")));
}

// The members that differ from the version's own (all set members for a new version).
function versionParams(form, v = {}) {
  const params = {};
  for (const member of ["VendorGuidance", "JobType", "Processor", "MLFramework", "ProgrammingLang", "ReleaseNotes"]) {
    const value = valueOf(form, member);
    if (value !== "" && value !== (v[member] || "")) params[member] = value;
  }
  const horovod = valueOf(form, "Horovod");
  if (horovod !== Boolean(v.Horovod)) params.Horovod = horovod;
  return params;
}

function renderCreateVersion(name) {
  const form = h("form", { class: "panel form", novalidate: true });
  fill(form,
    formAlert(),
    field("Base image", textInput("BaseImage", { required: true, placeholder: "123456789012.dkr.ecr.us-east-1.amazonaws.com/repo:tag" }),
      "The container image this version is made from: an ECR URI or a registry path."),
    field("Aliases", textInput("Aliases"), "Optional. Separate aliases with commas or spaces, for example: latest, stable."),
    versionFields(),
    h("div", { class: "actions" },
      h("a", { href: imagePath(name), class: "button", "data-nav": true }, "Cancel"),
      h("button", { type: "submit", class: "button button-primary" }, "Create image version")));
  const token = clientToken();
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    submitting(form, async () => {
      const params = { ImageName: name, BaseImage: valueOf(form, "BaseImage"), ClientToken: token, ...versionParams(form) };
      const aliases = splitList(valueOf(form, "Aliases"));
      if (aliases.length) params.Aliases = aliases;
      await call("CreateImageVersion", params);
      announce(`Version of ${name} created`);
      go(imagePath(name));
    });
  });
  setPage("Create image version", [["Images", "/console"], [name, imagePath(name)], ["Create image version"]],
    h("h1", {}, "Create image version"), h("p", { class: "lead" }, "Image ", h("strong", {}, name)), form);
  $("[data-member=BaseImage]", form).focus();
}

// -- Navigation ------------------------------------------------------------------------------------

function route() {
  stopPolling();
  renderId += 1;
  renderIdentity();
  if (config.auth === "sigv4" && !config.user) { renderSignIn(); return; }
  const path = location.pathname.replace(/\/+$/, "");
  let match;
  if (path === "/console") renderImages();
  else if (path === "/console/create-image") renderCreateImage();
  else if ((match = path.match(/^\/console\/images\/([^/]+)\/create-version$/))) renderCreateVersion(decodeURIComponent(match[1]));
  else if ((match = path.match(/^\/console\/images\/([^/]+)$/))) renderImage(decodeURIComponent(match[1]));
  else setPage("Not found", [["Images", "/console"], ["Not found"]], h("h1", {}, "Page not found"),
    h("p", {}, h("a", { href: "/console", "data-nav": true }, "Back to images")));
  if (document.activeElement === document.body) $("#main").focus({ preventScroll: true });
}

function go(path) {
  history.pushState(null, "", path);
  route();
  window.scrollTo(0, 0);
}

document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-nav]");
  if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  event.preventDefault();
  go(link.getAttribute("href"));
});
window.addEventListener("popstate", route);
route();
