// The kitchen display in a browser, served by the edge itself (no internet, nothing to install).
// Pairs once with a code from a manager (the token stays in this browser), then shows the open
// tickets of a station with their timers and all-day counts, live over the edge's WebSocket
// stream, resuming after a dropped link without missing a ticket.
'use strict';

const TOKEN_KEY = 'kibanda.kds.token';
const STATION_KEY = 'kibanda.kds.station';
// Ticket age at which its timer turns amber, then red (a kitchen's usual targets).
const AMBER_MS = 5 * 60 * 1000;
const RED_MS = 10 * 60 * 1000;
// Reconnect backoff for the live stream: from half a second, doubling to ten.
const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 10000;

const state = {
  token: localStorage.getItem(TOKEN_KEY),
  station: new URLSearchParams(location.search).get('station') ?? localStorage.getItem(STATION_KEY) ?? '',
  tickets: [],
  loadedAt: 0,
  lastSeq: 0,
  lastBumped: null,
  socket: null,
  reconnectMs: RECONNECT_MIN_MS,
  refreshTimer: null,
};

const $ = (id) => document.getElementById(id);

function showError(message) {
  $('error').textContent = message || '';
}

class Unpaired extends Error {}

async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: Object.assign({ 'content-type': 'application/json' },
      state.token ? { authorization: `Bearer ${state.token}` } : {}),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const json = text ? JSON.parse(text) : null;
  if (response.status === 401) throw new Unpaired(json?.message || 'not paired');
  if (!response.ok) throw new Error(json?.message || `${response.status}`);
  return json;
}

function showPairing(message) {
  localStorage.removeItem(TOKEN_KEY);
  state.token = null;
  if (state.socket) state.socket.close();
  $('board').hidden = true;
  $('pairing').hidden = false;
  $('pair-error').textContent = message || '';
}

async function pair(event) {
  event.preventDefault();
  try {
    const device = await api('POST', '/v1/devices/register', {
      code: $('pair-code').value.trim(),
      name: $('pair-name').value.trim(),
    });
    if (device.kind !== 'kds') {
      $('pair-error').textContent = `that code pairs a ${device.kind}, not a kitchen display`;
      return;
    }
    state.token = device.token;
    localStorage.setItem(TOKEN_KEY, device.token);
    await start();
  } catch (error) {
    $('pair-error').textContent = error.message;
  }
}

function ageClass(ageMs) {
  if (ageMs >= RED_MS) return 'red';
  if (ageMs >= AMBER_MS) return 'amber';
  return '';
}

function clock(ageMs) {
  const seconds = Math.max(0, Math.floor(ageMs / 1000));
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
}

function ticketCard(ticket, now) {
  const age = ticket.age_ms + (now - state.loadedAt);
  const card = document.createElement('article');
  card.className = ['ticket', ageClass(age), ticket.state === 'paused' ? 'paused' : '',
    ticket.priority ? 'priority' : ''].filter(Boolean).join(' ');
  card.dataset.ticketId = ticket.id;
  card.dataset.orderNumber = ticket.order_number;
  const title = document.createElement('h3');
  const number = document.createElement('span');
  number.textContent = `#${ticket.order_number} ${ticket.station}${ticket.remake_of ? ' (remake)' : ''}`;
  const timer = document.createElement('span');
  timer.className = 'timer';
  timer.dataset.ageMs = ticket.age_ms;
  timer.textContent = clock(age);
  title.append(number, timer);
  const lines = document.createElement('ul');
  for (const line of ticket.lines) {
    const item = document.createElement('li');
    if (line.voided) item.className = 'voided';
    item.textContent = `${line.quantity} × ${line.name}`;
    if (line.modifiers.length) {
      const mods = document.createElement('span');
      mods.className = 'mods';
      mods.textContent = line.modifiers.join('\n');
      item.append(mods);
    }
    lines.append(item);
  }
  const actions = document.createElement('div');
  actions.className = 'actions';
  const button = (label, body, cls) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = label;
    b.dataset.action = body.action;
    if (cls) b.className = cls;
    b.addEventListener('click', () => act(ticket.id, body));
    actions.append(b);
  };
  button('Bump', { action: 'bump' }, 'bump');
  if (ticket.state === 'paused') button('Resume', { action: 'resume' });
  else button('Pause', { action: 'pause' });
  button(ticket.priority ? 'Normal' : 'Rush', { action: 'priority', priority: !ticket.priority });
  button('Remake', { action: 'remake' });
  card.append(title, lines, actions);
  return card;
}

function render() {
  const now = Date.now();
  const board = $('tickets');
  board.replaceChildren(...state.tickets.map((ticket) => ticketCard(ticket, now)));
  $('recall').disabled = !state.lastBumped;
}

function tick() {
  const elapsed = Date.now() - state.loadedAt;
  for (const timer of document.querySelectorAll('.timer')) {
    const age = Number(timer.dataset.ageMs) + elapsed;
    timer.textContent = clock(age);
    const card = timer.closest('.ticket');
    card.classList.toggle('amber', age >= AMBER_MS && age < RED_MS);
    card.classList.toggle('red', age >= RED_MS);
  }
}

async function load() {
  const query = state.station ? `?station=${encodeURIComponent(state.station)}` : '';
  const [tickets, allDay] = await Promise.all([
    api('GET', `/v1/kitchen/tickets${query}`),
    api('GET', `/v1/kitchen/all-day${query}`),
  ]);
  state.tickets = tickets;
  state.loadedAt = Date.now();
  render();
  $('all-day').tBodies[0].replaceChildren(...allDay.map((count) => {
    const row = document.createElement('tr');
    const name = document.createElement('td');
    name.textContent = count.name;
    const quantity = document.createElement('td');
    quantity.className = 'qty';
    quantity.textContent = count.quantity;
    row.append(name, quantity);
    return row;
  }));
  document.body.dataset.loads = Number(document.body.dataset.loads || 0) + 1;
}

// Several events in a burst (a send to many stations) cost one reload.
function scheduleLoad() {
  clearTimeout(state.refreshTimer);
  state.refreshTimer = setTimeout(() => load().catch(handle), 50);
}

async function act(ticketId, body) {
  try {
    await api('POST', `/v1/kitchen/tickets/${ticketId}/actions`, body);
    if (body.action === 'bump') state.lastBumped = ticketId;
    await load();
    showError('');
  } catch (error) {
    handle(error);
  }
}

async function loadStations() {
  const stations = await api('GET', '/v1/kitchen/stations');
  const select = $('station');
  const known = new Set([...select.options].map((option) => option.value));
  for (const station of stations.map((s) => s.station).concat(state.station ? [state.station] : [])) {
    if (known.has(station)) continue;
    known.add(station);
    select.add(new Option(station, station));
  }
  select.value = state.station;
}

function connect() {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  // A browser cannot set headers on a WebSocket: the token travels as a subprotocol.
  const socket = new WebSocket(`${scheme}://${location.host}/v1/stream?after=${state.lastSeq}`,
    ['kibanda.v1', `kibanda.bearer.${state.token}`]);
  state.socket = socket;
  socket.addEventListener('open', () => {
    state.reconnectMs = RECONNECT_MIN_MS;
    $('link').textContent = 'live';
    $('link').className = 'link up';
    // Whatever happened while the link was down comes down the stream; reload once too.
    scheduleLoad();
  });
  socket.addEventListener('message', (message) => {
    const event = JSON.parse(message.data);
    state.lastSeq = Math.max(state.lastSeq, event.seq);
    document.body.dataset.lastSeq = state.lastSeq;
    scheduleLoad();
  });
  socket.addEventListener('close', () => {
    if (state.socket !== socket || !state.token) return;
    $('link').textContent = 'reconnecting';
    $('link').className = 'link down';
    setTimeout(connect, state.reconnectMs);
    state.reconnectMs = Math.min(state.reconnectMs * 2, RECONNECT_MAX_MS);
  });
}

function handle(error) {
  if (error instanceof Unpaired) showPairing('this screen is not paired (or was disabled): pair it again');
  else showError(error.message);
}

async function start() {
  $('pairing').hidden = true;
  $('board').hidden = false;
  try {
    await loadStations();
    await load();
    connect();
  } catch (error) {
    handle(error);
  }
}

document.addEventListener('DOMContentLoaded', () => {
  $('pair-form').addEventListener('submit', pair);
  $('station').addEventListener('change', (event) => {
    state.station = event.target.value;
    localStorage.setItem(STATION_KEY, state.station);
    load().catch(handle);
  });
  $('recall').addEventListener('click', () => {
    if (state.lastBumped) act(state.lastBumped, { action: 'recall' }).then(() => { state.lastBumped = null; render(); });
  });
  setInterval(tick, 1000);
  if (state.token) start();
  else showPairing('');
});
