// The staff inbox (spec section 13): a small module on the staff REST API and the staff event
// stream. No framework and no build step: the binary serves this file as it is.
//
// Rules this file keeps:
// - the staff key lives in sessionStorage only (this tab), is sent in the Authorization header
//   only, never in a URL, and is never written to the console (nothing here logs at all);
// - text from the server is put into the page with textContent, never parsed as HTML;
// - the event stream is read with fetch() because EventSource cannot send Authorization; on
//   reconnect it sends Last-Event-ID so nothing is missed.

const KEY_STORAGE = "bellhop.staffKey";
const PAGE_SIZE = 50;

const state = {
  key: null,
  me: null,
  timeZone: undefined,
  outlets: [],
  outletNames: new Map(),
  conversations: [],
  nextCursor: null,
  openCode: null,
  open: null,
  lastEventId: null,
  online: false,
  // Bumped on sign-out: every loop and late answer of an older sign-in stops.
  generation: 0,
  streamAbort: null,
  listSeq: 0,
  openSeq: 0,
  pendingReply: null,
  sending: false,
  refreshTimer: null,
  refreshCodes: new Set(),
};

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------- small DOM helper

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// ---------------------------------------------------------------- time

// The server writes seven fractional digits; Date parses three reliably.
function parseDate(text) {
  if (!text) return null;
  const date = new Date(String(text).replace(/\.(\d{3})\d*/, ".$1"));
  return Number.isNaN(date.getTime()) ? null : date;
}

function dayKey(date) {
  return new Intl.DateTimeFormat("en-GB", {
    timeZone: state.timeZone, year: "numeric", month: "2-digit", day: "2-digit",
  }).format(date);
}

function formatTime(date) {
  if (!date) return "";
  const time = new Intl.DateTimeFormat("en-GB", {
    timeZone: state.timeZone, hour: "2-digit", minute: "2-digit",
  }).format(date);
  if (dayKey(date) === dayKey(new Date())) return time;
  const day = new Intl.DateTimeFormat("en-GB", {
    timeZone: state.timeZone, weekday: "short", day: "numeric", month: "short",
  }).format(date);
  return `${day}, ${time}`;
}

function timeElement(text) {
  const date = parseDate(text);
  if (!date) return null;
  return el("time", { datetime: date.toISOString(), class: "time", text: formatTime(date) });
}

function waited(since) {
  const start = parseDate(since);
  if (!start) return "";
  const minutes = Math.max(0, Math.floor((Date.now() - start.getTime()) / 60000));
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  if (hours < 48) return rest ? `${hours} h ${rest} min` : `${hours} h`;
  return `${Math.floor(hours / 24)} days`;
}

// ---------------------------------------------------------------- the API

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const PLAIN_WORDS = {
  ConversationClosed: "This conversation is closed. Reopen it to reply.",
  ConversationNotFound: "This conversation no longer exists, or your key does not cover it.",
  GuestNotFound: "No guest is checked in to that room.",
  OutletNotFound: "That outlet is not available to your key.",
  StaffMemberNotFound: "That staff member does not exist.",
  AssigneeNotAllowed: "That staff member does not work for this conversation's outlet.",
  MessageNotFound: "That message no longer exists.",
};

function plainWords(status, code, serverMessage) {
  if (status === 0) return "The server cannot be reached. Check the network; the inbox keeps trying.";
  if (status === 401) return "That staff key was not accepted. Check it and try again.";
  if (PLAIN_WORDS[code]) return PLAIN_WORDS[code];
  if (status === 429) return "Too many requests at once. Wait a moment and try again.";
  if (status >= 500) return "The server has a problem right now. Try again in a moment.";
  return serverMessage || "That did not work. Try again.";
}

// A random UUID also where crypto.randomUUID is missing (a plain-http intranet address).
function newIdempotencyKey() {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

async function api(method, path, { body, idempotencyKey, key = state.key } = {}) {
  const headers = { Authorization: `Bearer ${key}`, Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
  let response;
  try {
    response = await fetch(path, {
      method, headers, cache: "no-store", credentials: "omit",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "Unreachable", plainWords(0));
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const code = data?.error?.code ?? "";
    const error = new ApiError(response.status, code, plainWords(response.status, code, data?.error?.message));
    // A key that stops working mid-shift (disabled, removed) signs the tab out.
    if (response.status === 401 && key === state.key && state.key) signOut(error.message);
    throw error;
  }
  return data;
}

function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "" && value !== false) search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

// ---------------------------------------------------------------- sign in and out

function show(view) {
  $("signin-view").hidden = view !== "signin";
  $("app-view").hidden = view !== "app";
  $("who").hidden = view !== "app";
  $("connection").hidden = view !== "app";
}

async function signIn(key, { fromStorage = false } = {}) {
  const generation = state.generation;
  // The key is checked against the unread counts (every key may read them) before it is kept.
  const unread = await api("GET", "/staff/v1/unread", { key });
  const me = await api("GET", "/staff/v1/me", { key }).catch((error) => {
    if (error.status === 401) throw error;
    return null;
  });
  if (generation !== state.generation) return;
  state.key = key;
  state.me = me;
  state.timeZone = me?.timeZone || undefined;
  sessionStorage.setItem(KEY_STORAGE, key);
  $("who-name").textContent = me?.displayName ? `Signed in as ${me.displayName}` : "Signed in";
  applyUnread(unread);
  show("app");
  if (!fromStorage) $("filter-status").focus();
  await loadList();
  startStream(state.generation);
}

function signOut(message = "") {
  state.generation += 1;
  state.streamAbort?.abort();
  state.streamAbort = null;
  sessionStorage.removeItem(KEY_STORAGE);
  Object.assign(state, {
    key: null, me: null, timeZone: undefined, outlets: [], conversations: [], nextCursor: null,
    openCode: null, open: null, lastEventId: null, pendingReply: null, sending: false,
  });
  state.outletNames.clear();
  clearTimeout(state.refreshTimer);
  state.refreshCodes.clear();
  $("conversation-list").replaceChildren();
  $("outlet-list").replaceChildren();
  outletsShown = "";
  $("messages").replaceChildren();
  $("notes").replaceChildren();
  $("reply").value = "";
  $("note").value = "";
  $("detail-body").hidden = true;
  $("detail-empty").hidden = false;
  $("app-view").classList.remove("reading");
  $("signin-error").textContent = message;
  $("staff-key").value = "";
  show("signin");
  $("staff-key").focus();
}

// ---------------------------------------------------------------- outlets and the list

function outletName(code) {
  return state.outletNames.get(code) || code;
}

function applyUnread(unread) {
  state.outlets = unread?.outlets ?? [];
  renderOutlets();
}

let outletsShown = "";

function renderOutlets() {
  const chosen = $("filter-outlet").value;
  // Rebuilding a select someone has open would close it: only redraw what changed.
  const signature = JSON.stringify([chosen, state.outlets, state.outlets.map((o) => outletName(o.outletCode))]);
  if (signature === outletsShown) return;
  outletsShown = signature;
  const buttons = state.outlets.map((o) => {
    const count = o.unreadConversations;
    return el("li", {},
      el("button", { type: "button", "aria-pressed": chosen === o.outletCode ? "true" : "false", "data-outlet": o.outletCode },
        outletName(o.outletCode),
        el("span", { class: count ? "badge" : "badge zero", text: `${count} unread` })));
  });
  $("outlet-list").replaceChildren(...buttons);

  const filter = $("filter-outlet");
  const options = [el("option", { value: "", text: "All outlets" })].concat(state.outlets.map((o) =>
    el("option", { value: o.outletCode, text: `${outletName(o.outletCode)} (${o.unreadConversations} unread)` })));
  filter.replaceChildren(...options);
  filter.value = state.outlets.some((o) => o.outletCode === chosen) ? chosen : "";

  const start = $("new-outlet");
  const startChosen = start.value;
  start.replaceChildren(...state.outlets.map((o) => el("option", { value: o.outletCode, text: outletName(o.outletCode) })));
  if (state.outlets.some((o) => o.outletCode === startChosen)) start.value = startChosen;
}

function filters() {
  return {
    outletCode: $("filter-outlet").value,
    status: $("filter-status").value,
    unread: $("filter-unread").checked ? "true" : "",
    assignee: $("filter-assignee").value,
    overdue: $("filter-overdue").checked ? "true" : "",
  };
}

async function loadList({ more = false } = {}) {
  const seq = ++state.listSeq;
  const generation = state.generation;
  const limit = more ? PAGE_SIZE : Math.min(200, Math.max(PAGE_SIZE, state.conversations.length));
  const params = { ...filters(), limit, cursor: more ? state.nextCursor : "" };
  try {
    const [page, unread] = await Promise.all([
      api("GET", `/staff/v1/conversations${query(params)}`),
      more ? Promise.resolve(null) : api("GET", "/staff/v1/unread"),
    ]);
    if (seq !== state.listSeq || generation !== state.generation) return;
    for (const c of page.conversations) state.outletNames.set(c.outletCode, c.outletName);
    state.conversations = more ? state.conversations.concat(page.conversations) : page.conversations;
    state.nextCursor = page.nextCursor;
    if (unread) applyUnread(unread);
    else renderOutlets();
    $("list-error").textContent = "";
    renderList();
  } catch (error) {
    if (seq === state.listSeq && generation === state.generation) $("list-error").textContent = error.message;
  }
}

function guestName(c) {
  return [c.guestFirstName, c.guestLastName].filter(Boolean).join(" ");
}

// A visitor has no stay: the name is the one the visitor signed a message with (from the
// contact form), remembered per conversation since the list shows only the last message.
const visitorNames = new Map();

function rememberVisitor(c, messages) {
  if (c.roomNumber) return;
  const signed = messages.find((m) => m && m.messageType === "Guest" && (m.firstName || m.lastName));
  if (signed) visitorNames.set(c.code, [signed.firstName, signed.lastName].filter(Boolean).join(" "));
}

function who(c) {
  const name = guestName(c) || (c.roomNumber ? "" : visitorNames.get(c.code) ?? "");
  if (c.roomNumber) return name ? `Room ${c.roomNumber} · ${name}` : `Room ${c.roomNumber}`;
  return name ? `${name} (visitor)` : "Visitor";
}

function renderList() {
  for (const c of state.conversations) rememberVisitor(c, [c.lastMessage]);
  const items = state.conversations.map((c) => {
    const last = c.lastMessage;
    const lastBy = last ? (last.messageType === "Guest" ? "Guest" : "Staff") : "";
    const extras = [outletName(c.outletCode)];
    if (c.assignee) extras.push(`Assigned to ${c.assignee.displayName}`);
    if (c.conversationStatus === "Closed") extras.push("Closed");
    const button = el("button", {
      type: "button",
      class: c.unreadCount > 0 ? "unread" : "",
      "data-code": c.code,
      "aria-current": c.code === state.openCode ? "true" : null,
    },
      el("span", { class: "line1" },
        el("span", { class: "who-line", text: who(c) }),
        timeElement(last?.createDate)),
      el("span", { class: "subject", text: c.subject }),
      last ? el("span", { class: "preview", text: `${lastBy}: ${last.content}` }) : null,
      el("span", { class: "extra" },
        extras.join(" · "),
        c.unreadCount > 0 ? el("span", { class: "badge", text: `${c.unreadCount} unread` }) : null),
      c.overdue ? el("span", { class: "overdue-badge", text: `Overdue · waiting ${waited(c.awaitingReplySince)}` }) : null);
    return el("li", {}, button);
  });
  // A live update must not take the keyboard focus away from the entry it was on.
  const focused = document.activeElement?.closest?.("#conversation-list button[data-code]")?.dataset.code;
  $("conversation-list").replaceChildren(...items);
  if (focused) {
    [...$("conversation-list").querySelectorAll("button[data-code]")].find((b) => b.dataset.code === focused)?.focus();
  }
  $("list-empty").hidden = items.length > 0;
  $("load-more").hidden = !state.nextCursor;
}

// ---------------------------------------------------------------- one conversation

async function openConversation(code, { focus = true } = {}) {
  const changed = state.openCode !== code;
  state.openCode = code;
  if (changed) {
    state.open = null;
    $("detail-error").textContent = "";
    $("reply").value = state.pendingReply?.code === code ? state.pendingReply.content : "";
    $("note").value = "";
    $("messages").replaceChildren();
    $("notes").replaceChildren();
  }
  $("app-view").classList.add("reading");
  for (const button of $("conversation-list").querySelectorAll("button[data-code]")) {
    if (button.dataset.code === code) button.setAttribute("aria-current", "true");
    else button.removeAttribute("aria-current");
  }
  await refreshOpen();
  if (changed) loadQuickReplies(code);
  if (focus && changed && window.matchMedia("(max-width: 760px)").matches) $("detail-heading").focus();
}

async function refreshOpen() {
  const code = state.openCode;
  if (!code) return;
  const seq = ++state.openSeq;
  const generation = state.generation;
  try {
    let { conversation } = await api("GET", `/staff/v1/conversations/${encodeURIComponent(code)}`);
    // Opening (or watching) a conversation marks the guest's messages read.
    if (conversation.unreadCount > 0 && document.visibilityState === "visible") {
      ({ conversation } = await api("POST", `/staff/v1/conversations/${encodeURIComponent(code)}/read`, { body: {} }));
    }
    if (seq !== state.openSeq || generation !== state.generation || code !== state.openCode) return;
    state.open = conversation;
    state.outletNames.set(conversation.outletCode, conversation.outletName);
    renderOpen();
  } catch (error) {
    if (seq === state.openSeq && code === state.openCode) $("detail-error").textContent = error.message;
  }
}

function renderFlags() {
  const c = state.open;
  if (!c) return;
  const flags = [el("span", { class: "status-pill", text: c.conversationStatus === "Closed" ? "Closed" : "Open" }),
    el("span", { class: "status-pill", text: c.assignee ? `Assigned to ${c.assignee.displayName}` : "Unassigned" })];
  if (c.overdue) {
    flags.push(el("span", { class: "overdue-badge", text: `Overdue · the guest has waited ${waited(c.awaitingReplySince)}` }));
  } else if (c.awaitingReplySince) {
    const due = parseDate(c.replyDueAt);
    flags.push(el("span", { class: "status-pill", text: due ? `Awaiting a reply · due ${formatTime(due)}` : "Awaiting a reply" }));
  }
  $("detail-flags").replaceChildren(...flags);
}

function renderOpen() {
  const c = state.open;
  rememberVisitor(c, c.messages ?? []);
  $("detail-empty").hidden = true;
  $("detail-body").hidden = false;
  const heading = $("detail-heading");
  heading.textContent = c.subject;
  heading.setAttribute("tabindex", "-1");
  const meta = [who(c), c.outletName];
  if (c.orderCode) meta.push(`Order ${c.orderCode}`);
  if (c.guestLanguageCode) meta.push(`Language ${c.guestLanguageCode}`);
  $("detail-meta").textContent = meta.join(" · ");

  renderFlags();

  const form = $("detail-form");
  const details = c.orderFormDetails && typeof c.orderFormDetails === "object" ? Object.entries(c.orderFormDetails) : [];
  form.replaceChildren(...details.flatMap(([name, value]) => [
    el("dt", { text: name }),
    el("dd", { text: typeof value === "string" ? value : JSON.stringify(value) }),
  ]));
  form.hidden = details.length === 0;

  const mine = state.me?.code && c.assignee?.code === state.me.code;
  $("assign-me").hidden = !state.me?.code || Boolean(mine);
  $("unassign").hidden = !c.assignee;
  const closed = c.conversationStatus === "Closed";
  $("close").hidden = closed;
  $("reopen").hidden = !closed;
  $("reply-hint").textContent = closed
    ? "This conversation is closed. Reopen it to reply."
    : "Enter sends; Shift+Enter starts a new line.";

  // Messages already shown stay in place (a screen reader announces only the new ones of the
  // log); their read receipts are brought up to date.
  const log = $("messages");
  const shown = new Map([...log.children].map((item) => [item.dataset.code, item]));
  const wanted = c.messages ?? [];
  if (wanted.length < shown.size || wanted.some((m, i) => i < log.children.length && log.children[i].dataset.code !== m.code)) {
    log.replaceChildren();
    shown.clear();
  }
  let added = null;
  for (const m of wanted) {
    const fresh = renderMessage(m);
    const old = shown.get(m.code);
    if (!old) {
      log.append(fresh);
      added = fresh;
    } else if (old.textContent !== fresh.textContent) {
      old.replaceWith(fresh);
    }
  }
  added?.scrollIntoView({ block: "nearest" });

  $("notes").replaceChildren(...(c.notes ?? []).map((n) => el("li", {},
    el("span", { class: "by" }, el("strong", { text: n.authorName || "Staff" }), " · ", timeElement(n.createDate)),
    el("p", { class: "text", text: n.content }))));
}

function renderMessage(m) {
  const guest = m.messageType === "Guest";
  const author = guest
    ? [m.firstName, m.lastName].filter(Boolean).join(" ") || "Guest"
    : m.automatic
      ? `Automatic reply (${m.serviceCenterName})`
      : `${[m.firstName, m.lastName].filter(Boolean).join(" ") || "Staff"} (${m.serviceCenterName})`;
  return el("li", { class: `message ${guest ? "guest" : "staff"}`, "data-code": m.code },
    el("span", { class: "by" },
      el("strong", { text: author }),
      el("span", { text: guest ? "Guest" : "Staff" }),
      timeElement(m.createDate)),
    el("p", { class: "text", text: m.content }),
    guest ? null : el("p", { class: "receipt", text: m.isRead ? "Read by the guest" : "Not read yet" }));
}

async function loadQuickReplies(code) {
  const chooser = $("quick-reply");
  chooser.replaceChildren(el("option", { value: "", text: "Insert a quick reply…" }));
  try {
    const { quickReplies } = await api("GET", `/staff/v1/quick-replies${query({ conversationCode: code })}`);
    if (code !== state.openCode) return;
    chooser.append(...quickReplies.map((q) => {
      const option = el("option", { value: q.code, text: q.title });
      option.dataset.content = q.content;
      return option;
    }));
  } catch {
    // Quick replies are a convenience: the reply box works without them.
  }
}

function insertQuickReply() {
  const chooser = $("quick-reply");
  const option = chooser.selectedOptions[0];
  const content = option?.dataset.content;
  if (!content) return;
  const box = $("reply");
  const start = box.selectionStart ?? box.value.length;
  const end = box.selectionEnd ?? box.value.length;
  box.value = box.value.slice(0, start) + content + box.value.slice(end);
  const caret = start + content.length;
  chooser.value = "";
  box.focus();
  box.setSelectionRange(caret, caret);
}

// ---------------------------------------------------------------- actions

async function sendReply() {
  const code = state.openCode;
  const content = $("reply").value;
  if (!code || state.sending) return;
  if (!content.trim()) {
    $("detail-error").textContent = "Write a reply first.";
    return;
  }
  // The same reply retried (after a timeout, a lost answer) keeps its key, so it posts once.
  if (!state.pendingReply || state.pendingReply.code !== code || state.pendingReply.content !== content) {
    state.pendingReply = { code, content, key: newIdempotencyKey() };
  }
  const pending = state.pendingReply;
  state.sending = true;
  $("send").disabled = true;
  try {
    await api("POST", `/staff/v1/conversations/${encodeURIComponent(code)}/messages`, {
      body: { content }, idempotencyKey: pending.key,
    });
    if (state.pendingReply === pending) state.pendingReply = null;
    if (state.openCode === code && $("reply").value === content) $("reply").value = "";
    $("detail-error").textContent = "";
    await refreshOpen();
  } catch (error) {
    // A definite refusal ends this attempt; an unknown outcome keeps the key for the retry.
    if (error.status >= 400 && error.status < 500 && state.pendingReply === pending) state.pendingReply = null;
    $("detail-error").textContent = error.message;
  } finally {
    state.sending = false;
    $("send").disabled = false;
  }
}

// Idempotency keys of creating requests whose outcome is not known yet, by what they create:
// the same note retried after a lost answer reuses its key, so it is written once.
const pendingKeys = new Map();

async function act(button, path, body, { idempotent = false } = {}) {
  const code = state.openCode;
  if (!code) return null;
  const what = `${code}\n${path}\n${JSON.stringify(body)}`;
  if (idempotent && !pendingKeys.has(what)) pendingKeys.set(what, newIdempotencyKey());
  button.disabled = true;
  try {
    const result = await api("POST", `/staff/v1/conversations/${encodeURIComponent(code)}/${path}`, {
      body, idempotencyKey: idempotent ? pendingKeys.get(what) : undefined,
    });
    pendingKeys.delete(what);
    $("detail-error").textContent = "";
    await refreshOpen();
    scheduleRefresh(null);
    return result;
  } catch (error) {
    if (error.status >= 400 && error.status < 500) pendingKeys.delete(what);
    $("detail-error").textContent = error.message;
    return null;
  } finally {
    button.disabled = false;
  }
}

async function startConversation(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const roomNumber = $("new-room").value.trim();
  const outletCode = $("new-outlet").value;
  const content = $("new-message").value;
  if (!roomNumber || !content.trim()) {
    $("new-error").textContent = "Enter a room and a message.";
    return;
  }
  if (!form.dataset.key || form.dataset.draft !== `${roomNumber}\n${outletCode}\n${content}`) {
    form.dataset.key = newIdempotencyKey();
    form.dataset.draft = `${roomNumber}\n${outletCode}\n${content}`;
  }
  const submit = form.querySelector("button[type=submit]");
  submit.disabled = true;
  try {
    const { conversation } = await api("POST", "/staff/v1/conversations", {
      body: { roomNumber, outletCode, content }, idempotencyKey: form.dataset.key,
    });
    delete form.dataset.key;
    delete form.dataset.draft;
    form.reset();
    $("new-error").textContent = "";
    toggleNewForm(false);
    await loadList();
    await openConversation(conversation.code);
  } catch (error) {
    if (error.status >= 400 && error.status < 500) delete form.dataset.key;
    $("new-error").textContent = error.message;
  } finally {
    submit.disabled = false;
  }
}

function toggleNewForm(open) {
  $("new-form").hidden = !open;
  $("new-conversation").setAttribute("aria-expanded", open ? "true" : "false");
  if (open) $("new-room").focus();
}

// ---------------------------------------------------------------- live events

function setOnline(online) {
  state.online = online;
  const badge = $("connection");
  badge.textContent = online ? "Live" : "Offline: reconnecting. New messages appear when the connection is back.";
  badge.classList.toggle("offline", !online);
}

// Coalesces bursts of events into one reload of the list and of the open conversation.
function scheduleRefresh(code) {
  if (code) state.refreshCodes.add(code);
  clearTimeout(state.refreshTimer);
  state.refreshTimer = setTimeout(() => {
    const codes = state.refreshCodes;
    state.refreshCodes = new Set();
    loadList();
    if (state.openCode && (codes.has(state.openCode) || codes.has("*"))) refreshOpen();
  }, 120);
}

function handleEvent(type, data) {
  if (type === "ready" || type === "reset") {
    // From here on nothing can be missed: load the state the events will update.
    scheduleRefresh("*");
    return;
  }
  if (type === "session.ended") {
    signOut("Your staff key is no longer valid. Sign in again.");
    return;
  }
  let parsed = null;
  try {
    parsed = JSON.parse(data);
  } catch {
    parsed = null;
  }
  // A new message of the open conversation is shown at once; the reload that follows brings
  // its read state and everything else up to date.
  const open = state.open;
  if (type === "message.created" && open && parsed?.conversationCode === open.code && parsed.message
      && !(open.messages ?? []).some((m) => m.code === parsed.message.code)) {
    open.messages = (open.messages ?? []).concat(parsed.message);
    renderOpen();
  }
  if (type === "conversation.created" && parsed?.conversation) showNewConversation(parsed.conversation);
  scheduleRefresh(parsed?.conversationCode ?? "*");
}

// A new conversation goes to the top of the list at once when the filters let it in (a new
// conversation is open, unassigned and not overdue); the reload that follows confirms it.
function showNewConversation(c) {
  const f = filters();
  const fits = (!f.outletCode || f.outletCode === c.outletCode)
    && (!f.status || f.status === c.conversationStatus)
    && (!f.unread || c.unreadCount > 0)
    && (!f.assignee || (f.assignee === "none" ? !c.assignee : Boolean(c.assignee) && c.assignee.code === state.me?.code))
    && (!f.overdue || c.overdue);
  if (!fits || state.conversations.some((known) => known.code === c.code)) return;
  const { messages, ...fields } = c;
  state.outletNames.set(c.outletCode, c.outletName);
  state.conversations = [{ ...fields, lastMessage: (messages ?? []).at(-1) ?? null }].concat(state.conversations);
  renderList();
}

// Reads one text/event-stream body (the HTML standard's rules), calling `onEvent` per event.
async function readEvents(body, onEvent, onRetry) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let dataLines = [];
  let type = "";
  let id = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    for (;;) {
      const match = /\r\n|\r|\n/.exec(buffer);
      // A lone \r at the end may be the first half of \r\n: wait for more.
      if (!match || (match[0] === "\r" && match.index === buffer.length - 1)) break;
      const line = buffer.slice(0, match.index);
      buffer = buffer.slice(match.index + match[0].length);
      if (line === "") {
        if (dataLines.length > 0 || type) onEvent(type || "message", dataLines.join("\n"), id);
        dataLines = [];
        type = "";
        id = null;
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon === -1 ? line : line.slice(0, colon);
      let fieldValue = colon === -1 ? "" : line.slice(colon + 1);
      if (fieldValue.startsWith(" ")) fieldValue = fieldValue.slice(1);
      if (field === "data") dataLines.push(fieldValue);
      else if (field === "event") type = fieldValue;
      else if (field === "id" && !fieldValue.includes("\0")) id = fieldValue;
      else if (field === "retry" && /^\d+$/.test(fieldValue)) onRetry(Number(fieldValue));
    }
  }
}

async function startStream(generation) {
  let retry = 3000;
  let failures = 0;
  while (generation === state.generation) {
    const controller = new AbortController();
    state.streamAbort = controller;
    const headers = { Authorization: `Bearer ${state.key}`, Accept: "text/event-stream" };
    if (state.lastEventId) headers["Last-Event-ID"] = state.lastEventId;
    try {
      const response = await fetch("/staff/v1/events", {
        headers, signal: controller.signal, cache: "no-store", credentials: "omit",
      });
      if (response.status === 401) {
        if (generation === state.generation) signOut("Your staff key is no longer valid. Sign in again.");
        return;
      }
      if (!response.ok || !response.body) throw new Error("stream refused");
      failures = 0;
      setOnline(true);
      await readEvents(response.body, (type, data, id) => {
        if (generation !== state.generation) return;
        handleEvent(type, data);
        if (id !== null) state.lastEventId = id;
      }, (ms) => { retry = ms; });
    } catch {
      // A dropped or refused stream: shown as offline below, then retried.
    }
    if (generation !== state.generation) return;
    setOnline(false);
    failures += 1;
    // Reconnect after the server's retry delay, backing off to 30 s while it stays down.
    await new Promise((resolve) => setTimeout(resolve, Math.min(30000, retry * Math.min(failures, 10))));
  }
}

// ---------------------------------------------------------------- wiring

function wire() {
  $("signin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = $("staff-key").value.trim();
    if (!key) {
      $("signin-error").textContent = "Enter your staff key.";
      return;
    }
    const button = $("sign-in");
    button.disabled = true;
    $("signin-error").textContent = "";
    try {
      await signIn(key);
      $("staff-key").value = "";
    } catch (error) {
      $("signin-error").textContent = error.message;
      $("staff-key").focus();
    } finally {
      button.disabled = false;
    }
  });
  $("sign-out").addEventListener("click", () => signOut());

  $("filters").addEventListener("submit", (event) => event.preventDefault());
  $("filters").addEventListener("change", () => {
    state.conversations = [];
    renderOutlets();
    loadList();
  });
  $("outlet-list").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-outlet]");
    if (!button) return;
    const filter = $("filter-outlet");
    filter.value = filter.value === button.dataset.outlet ? "" : button.dataset.outlet;
    state.conversations = [];
    renderOutlets();
    loadList();
  });
  $("conversation-list").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-code]");
    if (button) openConversation(button.dataset.code);
  });
  $("load-more").addEventListener("click", () => loadList({ more: true }));

  $("new-conversation").addEventListener("click", () => toggleNewForm($("new-form").hidden));
  $("new-cancel").addEventListener("click", () => {
    toggleNewForm(false);
    $("new-conversation").focus();
  });
  $("new-form").addEventListener("submit", startConversation);

  $("back").addEventListener("click", () => {
    const code = state.openCode;
    $("app-view").classList.remove("reading");
    const item = [...$("conversation-list").querySelectorAll("button[data-code]")].find((b) => b.dataset.code === code);
    (item ?? $("filter-status")).focus();
  });

  $("reply-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sendReply();
  });
  $("reply").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      sendReply();
    }
  });
  $("quick-reply").addEventListener("change", insertQuickReply);

  $("note-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const content = $("note").value;
    if (!content.trim()) {
      $("detail-error").textContent = "Write a note first.";
      return;
    }
    const result = await act(event.currentTarget.querySelector("button[type=submit]"), "notes", { content }, { idempotent: true });
    if (result && $("note").value === content) $("note").value = "";
  });

  $("assign-me").addEventListener("click", (event) =>
    act(event.currentTarget, "assign", { assigneeCode: state.me?.code ?? null }));
  $("unassign").addEventListener("click", (event) => act(event.currentTarget, "assign", { assigneeCode: null }));
  $("close").addEventListener("click", async (event) => {
    await act(event.currentTarget, "close", {});
    if (!$("reopen").hidden) $("reopen").focus();
  });
  $("reopen").addEventListener("click", async (event) => {
    await act(event.currentTarget, "reopen", {});
    if (!$("close").hidden) $("close").focus();
  });

  // Waiting times of overdue conversations grow while the page is open.
  setInterval(() => {
    if (state.key) {
      renderList();
      renderFlags();
    }
  }, 30000);
}

async function start() {
  wire();
  const stored = sessionStorage.getItem(KEY_STORAGE);
  if (!stored) {
    show("signin");
    $("staff-key").focus();
    return;
  }
  try {
    await signIn(stored, { fromStorage: true });
  } catch (error) {
    if (error.status === 401) signOut(error.message);
    else {
      show("signin");
      $("signin-error").textContent = error.message;
    }
  }
}

start();
