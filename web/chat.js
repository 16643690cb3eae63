// chat.js: the chat view (/chat.html) for a cluster started with -app chat.
// It speaks the chat protocol (docs/protocol.md) through wsfleet.js, the
// client library (/wsfleet.js, loaded first), to the server that served the
// page: the library reconnects by itself, joins the rooms again since the
// last message seen, and queues what is said while disconnected.
//
// Test hooks: window.chatSocket has the connection's readyState (1 open) and
// send(text), window.chatClient is the library's client, window.chatView the
// page's state (see the end of this file).
(function () {
  'use strict';

  const $ = (id) => document.getElementById(id);
  const el = {
    status: $('status'), reconnect: $('reconnect'),
    error: $('error'), errorText: $('error-text'), errorClose: $('error-close'),
    joinForm: $('join-form'), name: $('name'), room: $('room'), join: $('join'),
    rooms: $('rooms'), roomsEmpty: $('rooms-empty'),
    whisperForm: $('whisper-form'), whisperTo: $('whisper-to'), whisperText: $('whisper-text'), whisper: $('whisper'),
    roomTitle: $('room-title'), roomSub: $('room-sub'), members: $('members'), leave: $('leave'),
    log: $('log'),
    membersPanel: $('members-panel'), membersTitle: $('members-title'), membersClose: $('members-close'),
    memberList: $('member-list'), membersWhen: $('members-when'),
    sayForm: $('say-form'), text: $('text'), say: $('say')
  };

  const query = new URLSearchParams(location.search);
  // ?socketUrl=ws://host:port/ connects elsewhere; by default the server that served the page.
  const socketUrl = query.get('socketUrl') ||
    ((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/');
  if (query.get('name')) el.name.value = query.get('name');
  if (query.get('room')) el.room.value = query.get('room');

  const MAX_LOG = 500; // lines kept per room
  const CLOSE_CODES = {
    1000: 'normal closure', 1001: 'going away', 1002: 'protocol error', 1003: 'unsupported data',
    1005: 'no status', 1006: 'abnormal closure', 1007: 'invalid data', 1008: 'policy violation',
    1009: 'message too big', 1011: 'server error', 1012: 'service restart', 1013: 'try again later'
  };

  // A room: its log and what we know of it. state is
  //   joining  a join was sent, its "joined" has not come back
  //   joined   we are a member
  //   left     we left it (the log stays until the tab is closed)
  //   offline  we were a member when the connection closed; a reconnect joins again
  // The general log (key '') holds what belongs to no room, before any room is joined.
  const rooms = new Map();
  const general = { name: '', state: 'none', log: [], unread: 0, members: null, membersAt: null };
  let active = '';         // the room whose log is shown, '' for the general log
  let client = null;       // the wsfleet.js client
  let connName = '';       // the name the server knows this connection by, once a join succeeded
  const pendingJoins = new Map(); // room -> name, joins sent and not yet confirmed
  const pendingLeaves = new Set();
  let wantRoom = '';       // the room the user last asked to join: shown once joined
  let membersShown = false; // the member panel is open
  let errorTimer = 0;

  function roomOf(key) { return key ? rooms.get(key) : general; }
  function current() { return roomOf(active) || general; }
  function isOpen() { return !!client && client.connected(); }

  function ensureRoom(name, state) {
    let r = rooms.get(name);
    if (!r) {
      r = { name, state: state || 'joining', log: [], unread: 0, members: null, membersAt: null };
      rooms.set(name, r);
    } else if (state) {
      r.state = state;
    }
    return r;
  }

  // ---- the connection ----

  function setStatus(state, text) {
    el.status.dataset.state = state;
    el.status.textContent = text;
    document.body.dataset.chatState = state;
  }

  function connect() {
    if (client) {
      client.reconnect();
      return;
    }
    client = wsfleet.connect(socketUrl);
    window.chatClient = client;
    window.chatSocket = {
      get readyState() { return client.connected() ? 1 : 3; },
      send: (text) => client.send(text)
    };
    let lastCode = '';
    client.on('connecting', (e) => {
      if (!lastCode) {
        setStatus('connecting', 'Connecting to ' + socketUrl + '…');
      } else {
        el.status.textContent = el.status.textContent.replace(/ Reconnecting.*$/, '') + ' Reconnecting (attempt ' + e.attempt + ')…';
      }
    });
    client.on('connected', () => {
      lastCode = '';
      delete el.status.dataset.code;
      setStatus('open', 'Connected');
      rejoin();
      update();
    });
    client.on('message', receive);
    client.on('disconnected', (ev) => {
      if (!ev.wasOpen && lastCode) return; // a reconnect that failed: the status stays
      lastCode = String(ev.code);
      const why = CLOSE_CODES[ev.code] ? ' ' + CLOSE_CODES[ev.code] : '';
      const reason = ev.dead ? 'no answer from the server' : ev.reason;
      setStatus('closed', 'Closed: code ' + ev.code + why + (reason ? ' (' + reason + ')' : ''));
      el.status.dataset.code = lastCode;
      offline();
      addLine(active, { type: 'info', text: 'Connection closed with code ' + ev.code + why + '. Reconnecting by itself; what you say meanwhile is sent then.' });
      update();
    });
    client.on('recovered', (ev) => {
      addLine(ev.room, { type: 'info', room: ev.room, text: 'Messages said in #' + ev.room + ' while disconnected may be missing.' });
    });
    update();
  }

  // offline marks the rooms of a connection that is gone: the server forgot them.
  function offline() {
    rooms.forEach((r) => { if (r.state === 'joined' || r.state === 'joining') r.state = 'offline'; });
    pendingJoins.clear();
    pendingLeaves.clear();
    connName = '';
    update();
  }

  // rejoin joins again, on a new connection, the rooms the last one was in.
  function rejoin() {
    const name = el.name.value.trim();
    if (!name) return;
    let n = 0;
    rooms.forEach((r) => {
      if (r.state !== 'offline') return;
      r.state = 'joining';
      pendingJoins.set(r.name, name); // wsfleet.js sends the join
      n++;
    });
    if (n) addLine(active, { type: 'info', text: 'Reconnected: joining ' + n + (n === 1 ? ' room' : ' rooms') + ' again as ' + name + '.' });
  }

  // send sends msg now, or queues it while disconnected (wsfleet.js sends it
  // after the reconnect); false if the queue is full.
  function send(msg) {
    try {
      if (!client.send(msg)) addLine(active, { type: 'info', text: 'Not connected: ' + msg.type + ' queued until the connection is back.' });
      return true;
    } catch (e) {
      localError(e.message);
      return false;
    }
  }

  // ---- messages from the server ----

  function receive(m) {
    if (m instanceof ArrayBuffer) {
      localError('Unexpected binary message from the server (' + m.byteLength + ' bytes).');
      return;
    }
    const data = JSON.stringify(m);
    if (!m || typeof m !== 'object') {
      localError('Unexpected message from the server: ' + data.slice(0, 200));
      return;
    }
    switch (m.type) {
      case 'joined': onJoined(m); break;
      case 'left': onLeft(m); break;
      case 'said': {
        const r = rooms.get(m.room);
        addLine(r ? m.room : active, { type: 'said', room: m.room, from: m.from, text: m.text, mine: !!connName && m.from === connName });
        break;
      }
      case 'members': onMembers(m); break;
      case 'whisper':
        addLine(active, { type: 'whisper', dir: 'in', peer: m.from, text: m.text });
        break;
      case 'error': onError(String(m.error || 'unknown error')); break;
      default:
        localError('Unexpected message from the server: ' + data.slice(0, 200));
    }
  }

  function onJoined(m) {
    const mine = pendingJoins.has(m.room) && pendingJoins.get(m.room) === m.name;
    if (mine) {
      pendingJoins.delete(m.room);
      connName = m.name;
      ensureRoom(m.room, 'joined');
    } else if (!rooms.has(m.room)) {
      ensureRoom(m.room, 'joined');
    }
    addLine(m.room, { type: 'joined', room: m.room, name: m.name, self: mine });
    if (mine && (active === '' || active === m.room || wantRoom === m.room)) {
      wantRoom = '';
      select(m.room);
    }
    update();
  }

  function onLeft(m) {
    const r = rooms.get(m.room);
    const mine = pendingLeaves.has(m.room) && m.name === connName;
    if (mine) {
      pendingLeaves.delete(m.room);
      if (r) r.state = 'left';
    }
    addLine(r ? m.room : active, { type: 'left', room: m.room, name: m.name, self: mine });
    update();
  }

  // A members reply comes in pages (docs/protocol.md): while one names a
  // next page, ask for it and keep what came; show the list once complete.
  const membersSoFar = new Map(); // room -> names of the pages received
  function onMembers(m) {
    const page = Array.isArray(m.names) ? m.names : []; // the server leaves out an empty list
    const names = (membersSoFar.get(m.room) || []).concat(page);
    if (m.next && send({ type: 'members', room: m.room, after: m.next })) {
      membersSoFar.set(m.room, names);
      return;
    }
    membersSoFar.delete(m.room);
    const r = rooms.get(m.room);
    if (r) {
      r.members = names;
      r.membersAt = new Date();
    }
    addLine(r ? m.room : active, { type: 'members', room: m.room, names });
    renderMembers();
  }

  // A join that the server refused gets an error, not "joined". Errors do
  // not say which message they answer, but only a join can fail on the name
  // or on the room's name (say and leave use a room we joined).
  function onError(text) {
    if (pendingJoins.size && /already named|"name"|"room"|at most|unavailable/.test(text)) {
      const room = pendingJoins.keys().next().value;
      pendingJoins.delete(room);
      const r = rooms.get(room);
      if (r && r.state === 'joining') {
        if (r.log.length) r.state = 'left'; else rooms.delete(room);
      }
      if (wantRoom === room) wantRoom = '';
      update();
    }
    addLine(active, { type: 'error', text });
    showError(text);
  }

  // ---- the log ----

  function localError(text) {
    addLine(active, { type: 'error', text, local: true });
    showError(text);
  }

  function showError(text) {
    el.errorText.textContent = text;
    el.error.hidden = false;
    clearTimeout(errorTimer);
    errorTimer = setTimeout(() => { el.error.hidden = true; }, 8000);
  }

  function addLine(key, entry) {
    const r = roomOf(key) || general;
    entry.time = new Date();
    r.log.push(entry);
    if (r.log.length > MAX_LOG) r.log.splice(0, r.log.length - MAX_LOG);
    if (r === current()) {
      const stick = el.log.scrollHeight - el.log.scrollTop - el.log.clientHeight < 40;
      el.log.appendChild(renderLine(entry));
      while (el.log.childNodes.length > MAX_LOG) el.log.removeChild(el.log.firstChild);
      if (stick || entry.mine || entry.dir === 'out') el.log.scrollTop = el.log.scrollHeight;
    } else if (entry.type === 'said' || entry.type === 'whisper') {
      r.unread++;
      renderRooms();
    }
  }

  function two(n) { return String(n).padStart(2, '0'); }

  function node(tag, cls, text) {
    const n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text !== undefined) n.textContent = text;
    return n;
  }

  function who(name) {
    const b = node('button', 'who', name);
    b.type = 'button';
    b.title = 'Whisper to ' + name;
    b.dataset.whisperTo = name;
    return b;
  }

  function renderLine(e) {
    const li = node('li', 'line line-' + e.type);
    li.dataset.type = e.type;
    const t = e.time;
    li.appendChild(node('time', 'when', two(t.getHours()) + ':' + two(t.getMinutes()) + ':' + two(t.getSeconds())));
    const body = node('span', 'body');
    switch (e.type) {
      case 'joined':
        li.dataset.name = e.name;
        if (e.self) li.dataset.self = 'true';
        body.append(e.self ? 'You joined #' + e.room + ' as ' : '', who(e.name), e.self ? '' : ' joined #' + e.room);
        break;
      case 'left':
        li.dataset.name = e.name;
        if (e.self) li.dataset.self = 'true';
        body.append(e.self ? 'You (' : '', who(e.name), e.self ? ') left #' + e.room : ' left #' + e.room);
        break;
      case 'said':
        li.dataset.from = e.from;
        if (e.mine) { li.dataset.mine = 'true'; li.classList.add('mine'); }
        body.append(who(e.from), node('span', 'text', e.text));
        break;
      case 'whisper':
        li.dataset.dir = e.dir;
        li.dataset.peer = e.peer;
        body.append(node('span', 'tag', e.dir === 'in' ? 'whisper from' : 'whisper to'), who(e.peer),
          node('span', 'text', e.text));
        break;
      case 'members':
        li.dataset.room = e.room;
        body.append('Members of #' + e.room + ' (' + e.names.length + '): ' + (e.names.join(', ') || 'nobody'));
        break;
      case 'error':
        if (e.local) li.dataset.local = 'true';
        body.append(node('span', 'tag', e.local ? 'error' : 'server error'), node('span', 'text', e.text));
        break;
      default: // info
        body.append(e.text);
    }
    li.appendChild(body);
    return li;
  }

  function renderLog() {
    const r = current();
    const frag = document.createDocumentFragment();
    r.log.forEach((e) => frag.appendChild(renderLine(e)));
    el.log.replaceChildren(frag);
    el.log.scrollTop = el.log.scrollHeight;
  }

  // ---- rooms, members, controls ----

  function select(key) {
    if (key && !rooms.has(key)) key = '';
    active = key;
    const r = current();
    r.unread = 0;
    membersShown = false;
    renderLog();
    renderRooms();
    renderMembers();
    update();
  }

  const STATE_LABEL = { joining: 'joining…', joined: '', left: 'left', offline: 'offline' };

  function renderRooms() {
    const frag = document.createDocumentFragment();
    rooms.forEach((r) => {
      const li = node('li', 'room-item');
      li.dataset.room = r.name;
      li.dataset.state = r.state;
      const tab = node('button', 'room-tab');
      tab.type = 'button';
      tab.setAttribute('role', 'tab');
      tab.setAttribute('aria-selected', String(r.name === active));
      tab.dataset.room = r.name;
      tab.append(node('span', 'hash', '#'), node('span', 'room-label', r.name));
      if (STATE_LABEL[r.state]) tab.appendChild(node('span', 'room-state', STATE_LABEL[r.state]));
      if (r.unread) tab.appendChild(node('span', 'badge', String(r.unread)));
      li.appendChild(tab);
      if (r.state === 'left' || r.state === 'offline') {
        const x = node('button', 'btn-x room-close', '×');
        x.type = 'button';
        x.title = 'Close this tab';
        x.dataset.closeRoom = r.name;
        li.appendChild(x);
      }
      frag.appendChild(li);
    });
    el.rooms.replaceChildren(frag);
    el.roomsEmpty.hidden = rooms.size > 0;
  }

  function renderMembers() {
    const r = current();
    const show = membersShown && r.members !== null;
    el.membersPanel.hidden = !show;
    if (!show) return;
    el.membersTitle.textContent = 'Members of #' + r.name + ' (' + r.members.length + ')';
    const frag = document.createDocumentFragment();
    r.members.forEach((name) => {
      const li = node('li', 'member');
      li.dataset.name = name;
      li.appendChild(who(name));
      if (name === connName) li.appendChild(node('span', 'you', 'you'));
      frag.appendChild(li);
    });
    el.memberList.replaceChildren(frag);
    const t = r.membersAt;
    el.membersWhen.textContent = 'as of ' + two(t.getHours()) + ':' + two(t.getMinutes()) + ':' + two(t.getSeconds());
  }

  function update() {
    const open = isOpen();
    const r = current();
    const inRoom = !!active && r.state === 'joined';
    el.join.disabled = !open;
    el.name.disabled = !!connName; // the server fixes the name at the first join
    el.name.title = connName ? 'This connection is named ' + connName + '; reconnect to use another name' : '';
    el.whisper.disabled = !open;
    el.say.disabled = !open || !inRoom;
    el.text.disabled = !open || !inRoom;
    el.text.placeholder = inRoom ? 'Say something to #' + active : (active ? 'You are not in #' + active : 'Join a room to chat');
    el.members.disabled = !open || !active;
    el.leave.disabled = !open || !inRoom;
    el.reconnect.classList.toggle('btn-attention', !!client && client.state === 'waiting');
    el.roomTitle.textContent = active ? '#' + active : 'No room';
    el.roomSub.textContent = active
      ? (r.state === 'joined' ? 'as ' + connName : STATE_LABEL[r.state] || '')
      : 'Whispers and errors show here until you join a room.';
    renderRooms();
  }

  // ---- user actions ----

  el.joinForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const name = connName || el.name.value.trim();
    const room = el.room.value.trim();
    if (!name || !room) return;
    const r = rooms.get(room);
    if (r && (r.state === 'joined' || r.state === 'joining')) { select(room); return; }
    client.join(room, { name }); // and again after every reconnect
    pendingJoins.set(room, name);
    ensureRoom(room, 'joining');
    wantRoom = room;
    el.room.value = '';
    update();
  });

  el.sayForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = el.text.value;
    if (!text.trim() || !active) return;
    if (send({ type: 'say', room: active, text })) el.text.value = '';
    el.text.focus();
  });

  el.members.addEventListener('click', () => {
    if (!active) return;
    membersSoFar.delete(active);
    if (send({ type: 'members', room: active })) membersShown = true;
  });

  el.membersClose.addEventListener('click', () => { membersShown = false; renderMembers(); });

  el.leave.addEventListener('click', () => {
    if (!active) return;
    const room = active;
    client.leave(room); // and no rejoin after a reconnect
    if (isOpen()) pendingLeaves.add(room);
    else { rooms.get(room).state = 'left'; update(); }
  });

  el.whisperForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const to = el.whisperTo.value.trim();
    const text = el.whisperText.value;
    if (!to || !text.trim()) return;
    if (!send({ type: 'whisper', to, text })) return;
    addLine(active, { type: 'whisper', dir: 'out', peer: to, text });
    el.whisperText.value = '';
  });

  el.reconnect.addEventListener('click', connect);
  el.errorClose.addEventListener('click', () => { el.error.hidden = true; });

  el.rooms.addEventListener('click', (ev) => {
    const close = ev.target.closest('[data-close-room]');
    if (close) {
      const name = close.dataset.closeRoom;
      rooms.delete(name);
      if (active === name) {
        const next = Array.from(rooms.values()).find((r) => r.state === 'joined');
        select(next ? next.name : '');
      } else {
        update();
      }
      return;
    }
    const tab = ev.target.closest('[data-room]');
    if (tab) select(tab.dataset.room);
  });

  // A name in the log or the member list fills the whisper box.
  document.addEventListener('click', (ev) => {
    const n = ev.target.closest('[data-whisper-to]');
    if (!n) return;
    el.whisperTo.value = n.dataset.whisperTo;
    el.whisperText.focus();
  });

  // Test hooks and a handle for the DevTools console.
  window.chatView = {
    get client() { return client; },
    get name() { return connName; },
    get active() { return active; },
    rooms,
    send,
    connect,
    select
  };

  select('');
  connect();
})();
